"""A tiny but wide Nucleus-Image checkpoint and what diffusers / transformers make with it in float32 and bfloat16.

Every width a quantizable layer reads is a multiple of 64, so the default group size (64) quantizes the
transformer's linears and experts and the text encoder's linears end to end (`--quantize 8|4`, `--text-quantize`).
The model carries its own small byte-level BPE tokenizer (Qwen's normalizer, pre-tokenizer and special tokens, a
vocabulary of a few hundred entries), so the text encoder's embedding table stays small. Weights are stored in
bfloat16 like the release.

Writes test/fixtures/wide/:
  model/                 model_index.json, processor/ (tokenizer.json, tokenizer_config.json, chat_template.json),
                         scheduler/, text_encoder/, transformer/, vae/
  pipeline.safetensors   text -> image with CFG and a non-empty negative prompt, run by NucleusMoEImagePipeline twice:
                         every component loaded in float32 (`*_fp32`) and every component loaded in bfloat16
                         (`*_bf16`, what GPUs run). The metadata records the bf16 floor: the distance between the two
                         runs (RMS of the final latents' difference, and of the uint8 images' difference).
  text.safetensors       encode_prompt variants (float32): a custom system prompt, no system message, other hidden
                         layers; and the text encoder alone in float32 and bfloat16 on the prompt's tokens
  vae.safetensors        the VAE alone decoding packed latents as the pipeline does, in float32 and bfloat16
Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_wide_fixtures.py
"""

import json
import pathlib
import shutil
import sys

import numpy as np
import torch
from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, NucleusMoEImagePipeline,
                       NucleusMoEImageTransformer2DModel)
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import Qwen3VLForConditionalGeneration

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_dit_fixtures import build  # noqa: E402
from make_pipeline_fixtures import RELEASED_SCHEDULER, VAE, TextProcessor, build_vae  # noqa: E402
from make_text_fixtures import QWEN, randomized, tiny_encoder_config  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
ROOT = REPO / "test" / "fixtures" / "wide"
MODEL = ROOT / "model"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Inner width 64 (2 heads of 32, one KV head), text width 64, dense MLP 256, expert width 64: every quantizable
# input axis is a multiple of 64. 4 latent channels (in_channels 16) so the tiny VAE of the pipeline fixture fits.
# Capacity factor 4 with 4 experts: every expert takes every token, so no rounding (bf16, quantization) can flip an
# expert's choice of tokens and the outputs move smoothly with the weights (the tiny DiT fixtures cover capacities
# that drop tokens).
TRANSFORMER = dict(patch_size=2, in_channels=16, out_channels=4, num_layers=3, attention_head_dim=32,
                   num_attention_heads=2, num_key_value_heads=1, joint_attention_dim=64, axes_dims_rope=[8, 12, 12],
                   mlp_ratio=4.0, moe_enabled=True, dense_moe_strategy="leave_first_block_dense", num_experts=4,
                   moe_intermediate_dim=64, capacity_factors=[0.0, 4.0, 4.0], use_sigmoid=False, route_scale=2.5,
                   use_grouped_mm=False)
# hidden 64, 9 layers (the pipeline's hidden_states[-8] is the output of layer 2), 2 heads of 32, one KV head, MLP 128.
ENCODER = dict(hidden=64, layers=9, heads=2, kv_heads=1, head_dim=32, intermediate=128)

CORPUS = [
    "A red apple on a white table", "a small blue boat on a calm lake at dawn", "blurry, low quality, watermark",
    "Two cats sleeping on a green sofa, left cat is orange, right cat is gray", "Draw plainly.",
    "an old lighthouse under a starry sky", "a bowl of ramen with an egg", "City street at night, neon signs",
]
PROMPT = "A red apple on a white table"
NEGATIVE = "blurry, low quality"
SYSTEM = "Draw plainly."
HEIGHT, WIDTH, SEED, STEPS, CFG = 48, 64, 31337, 2, 4.0


def write_tokenizer(folder: pathlib.Path, system_prompt: str) -> None:
    """Trains a small byte-level BPE and writes it with Qwen3's normalizer, pre-tokenizer and decoder."""
    trainer = trainers.BpeTrainer(vocab_size=384, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trained.train_from_iterator(CORPUS + [system_prompt] * 4, trainer)
    ours = json.loads(trained.to_str())
    qwen = json.loads((QWEN / "tokenizer.json").read_text())
    vocabulary = ours["model"]["vocab"]
    added = [{"id": len(vocabulary) + index, "content": token, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for index, token in enumerate(SPECIALS)]
    definition = {**qwen, "added_tokens": added,
                  "model": {**qwen["model"], "vocab": vocabulary, "merges": ours["model"]["merges"]}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(definition, ensure_ascii=False) + "\n")
    config = {"add_bos_token": False, "add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "errors": "replace", "model_max_length": 131072,
              "tokenizer_class": "Qwen2Tokenizer", "clean_up_tokenization_spaces": False,
              "added_tokens_decoder": {str(token["id"]): {key: token[key] for key in token if key != "id"}
                                       for token in added}}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    template = json.loads((REPO / "test" / "fixtures" / "text" / "chat_template.json").read_text())
    (folder / "chat_template.json").write_text(json.dumps(template, indent=2) + "\n")
    Tokenizer.from_file(str(folder / "tokenizer.json"))  # loads


def write_model(system_prompt: str) -> None:
    shutil.rmtree(MODEL, ignore_errors=True)
    write_tokenizer(MODEL / "processor", system_prompt)
    vocabulary = Tokenizer.from_file(str(MODEL / "processor" / "tokenizer.json")).get_vocab_size()
    config = tiny_encoder_config(vocabulary, ENCODER["hidden"], ENCODER["layers"], ENCODER["heads"],
                                 ENCODER["kv_heads"], ENCODER["head_dim"], ENCODER["intermediate"])
    config.tie_word_embeddings = True
    config.text_config.tie_word_embeddings = True
    encoder = randomized(Qwen3VLForConditionalGeneration(config), 4242)
    encoder.to(torch.bfloat16).save_pretrained(MODEL / "text_encoder", max_shard_size="200KB")
    build(TRANSFORMER, 4343, torch.bfloat16).save_pretrained(MODEL / "transformer", max_shard_size="300KB",
                                                             safe_serialization=True)
    build_vae().to(torch.bfloat16).save_pretrained(MODEL / "vae", safe_serialization=True)
    FlowMatchEulerDiscreteScheduler.from_config(RELEASED_SCHEDULER).save_pretrained(MODEL / "scheduler")
    (MODEL / "model_index.json").write_text(json.dumps({
        "_class_name": "NucleusMoEImagePipeline", "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "transformer": ["diffusers", "NucleusMoEImageTransformer2DModel"],
        "vae": ["diffusers", "AutoencoderKLQwenImage"],
        "text_encoder": ["transformers", "Qwen3VLForConditionalGeneration"],
        "processor": ["transformers", "Qwen3VLProcessor"]}, indent=2) + "\n")


def pipeline(dtype: torch.dtype) -> NucleusMoEImagePipeline:
    """The saved model loaded the way users load it, every component in `dtype`."""
    template = json.loads((MODEL / "processor" / "chat_template.json").read_text())["chat_template"]
    return NucleusMoEImagePipeline(
        transformer=NucleusMoEImageTransformer2DModel.from_pretrained(MODEL / "transformer", torch_dtype=dtype),
        vae=AutoencoderKLQwenImage.from_pretrained(MODEL / "vae", torch_dtype=dtype),
        text_encoder=Qwen3VLForConditionalGeneration.from_pretrained(MODEL / "text_encoder", dtype=dtype).eval(),
        scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(MODEL / "scheduler"),
        processor=TextProcessor(template, MODEL / "processor" / "tokenizer.json"))


def rms(a: torch.Tensor) -> float:
    return a.double().pow(2).mean().sqrt().item()


def encode(pipe, prompt: str, return_index: int = -8, system_prompt=None, no_system=False):
    """encode_prompt with the pipeline's processing; a system prompt other than the default, or none, through the
    same chat template (diffusers' _format_prompt takes one but encode_prompt does not pass it on)."""
    original = pipe._format_prompt
    if no_system:
        pipe._format_prompt = lambda text: pipe.processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "text", "text": text}]}], tokenize=False, add_generation_prompt=True)
    elif system_prompt is not None:
        pipe._format_prompt = lambda text: original(text, system_prompt=system_prompt)
    try:
        with torch.no_grad():
            embeds, mask = pipe.encode_prompt(prompt=prompt, device="cpu", return_index=return_index)
    finally:
        pipe._format_prompt = original
    return embeds.float().contiguous(), None if mask is None else mask.int()


def put_encoding(tensors: dict, key: str, encoded) -> None:
    """prompt_embeds [1, L, D] and, when the pipeline keeps one (some padding), its mask [1, L]."""
    tensors[key] = encoded[0]
    if encoded[1] is not None:
        tensors[key + "_mask"] = encoded[1]


def packed_noise(pipe) -> torch.Tensor:
    grid_h, grid_w = HEIGHT // 16, WIDTH // 16
    noise = np.random.RandomState(SEED).standard_normal((1, 4, 2 * grid_h, 2 * grid_w)).astype(np.float32)
    return pipe._pack_latents(torch.from_numpy(noise), 1, 4, 2 * grid_h, 2 * grid_w, 2)


def pipeline_case(runs: dict) -> None:
    tensors, floors = {}, {}
    for name, pipe in runs.items():
        latents = packed_noise(pipe).to(pipe.transformer.dtype)
        common = dict(prompt=PROMPT, negative_prompt=NEGATIVE, height=HEIGHT, width=WIDTH, num_inference_steps=STEPS,
                      guidance_scale=CFG)
        with torch.no_grad():
            final = pipe(latents=latents.clone(), output_type="latent", **common).images
            image = pipe(latents=latents.clone(), output_type="pil", **common).images[0]
        tensors[f"output_latents_{name}"] = final.float().contiguous()
        tensors[f"image_uint8_{name}"] = torch.from_numpy(np.ascontiguousarray(np.array(image)))
        put_encoding(tensors, f"prompt_embeds_{name}", encode(pipe, PROMPT))
        put_encoding(tensors, f"negative_prompt_embeds_{name}", encode(pipe, NEGATIVE))
    floors["floor_latents_rms"] = rms(tensors["output_latents_bf16"] - tensors["output_latents_fp32"])
    floors["floor_image_rms"] = rms(tensors["image_uint8_bf16"].double() - tensors["image_uint8_fp32"].double())
    floors["floor_prompt_embeds_rms"] = rms(tensors["prompt_embeds_bf16"] - tensors["prompt_embeds_fp32"])
    save_file(tensors, str(ROOT / "pipeline.safetensors"), metadata={
        "prompt": PROMPT, "negative_prompt": NEGATIVE, "height": str(HEIGHT), "width": str(WIDTH), "seed": str(SEED),
        "steps": str(STEPS), "guidance_scale": str(CFG), **{key: repr(value) for key, value in floors.items()}})
    for key, value in floors.items():
        print(f"{key}: {value:.6g}")
    print("latents rms", rms(tensors["output_latents_fp32"]))


def text_case(runs: dict) -> None:
    fp32, bf16 = runs["fp32"], runs["bf16"]
    tensors = {}
    put_encoding(tensors, "system_prompt_embeds", encode(fp32, PROMPT, system_prompt=SYSTEM))
    put_encoding(tensors, "no_system_prompt_embeds", encode(fp32, PROMPT, no_system=True))
    put_encoding(tensors, "hidden_-3", encode(fp32, PROMPT, return_index=-3))
    put_encoding(tensors, "hidden_4", encode(fp32, PROMPT, return_index=4))
    # The text encoder alone on the prompt's tokens (what EncodeText gets), hidden_states[-8] in both dtypes.
    inputs = fp32.processor(text=[fp32._format_prompt(PROMPT)], padding="longest", pad_to_multiple_of=8,
                            max_length=1024, truncation=True, return_attention_mask=True, return_tensors="pt")
    tensors["input_ids"] = inputs["input_ids"][0].int()
    tensors["attention_mask"] = inputs["attention_mask"][0].int()
    for name, pipe in runs.items():
        with torch.no_grad():
            hidden = pipe.text_encoder(**inputs, use_cache=False, output_hidden_states=True).hidden_states
        tensors[f"encoder_hidden_-8_{name}"] = hidden[-8][0].float().contiguous()
    floor = rms(tensors["encoder_hidden_-8_bf16"] - tensors["encoder_hidden_-8_fp32"])
    save_file(tensors, str(ROOT / "text.safetensors"), metadata={
        "prompt": PROMPT, "system_prompt": SYSTEM, "floor_encoder_rms": repr(floor)})
    print(f"text encoder bf16 floor {floor:.6g} (rms {rms(tensors['encoder_hidden_-8_fp32']):.4g})")


def vae_case(runs: dict) -> None:
    grid_h, grid_w = 5, 7
    packed = torch.randn(1, grid_h * grid_w, 16, generator=torch.Generator().manual_seed(77))
    tensors = {"latents": packed, "grid": torch.tensor([grid_h, grid_w], dtype=torch.int32)}
    for name, pipe in runs.items():
        vae = pipe.vae
        with torch.no_grad():
            unpacked = pipe._unpack_latents(packed, grid_h * 16, grid_w * 16, 2, pipe.vae_scale_factor).to(vae.dtype)
            mean = torch.tensor(VAE["latents_mean"]).view(1, 4, 1, 1, 1).to(vae.dtype)
            inverse_std = 1.0 / torch.tensor(VAE["latents_std"]).view(1, 4, 1, 1, 1).to(vae.dtype)
            decoded = vae.decode(unpacked / inverse_std + mean, return_dict=False)[0][:, :, 0]
        tensors[f"image_{name}"] = decoded.float().contiguous()
    floor = rms(tensors["image_bf16"] - tensors["image_fp32"])
    save_file(tensors, str(ROOT / "vae.safetensors"), metadata={"floor_image_rms": repr(floor)})
    print(f"vae bf16 floor {floor:.6g} (rms {rms(tensors['image_fp32']):.4g})")


def main() -> None:
    from diffusers.pipelines.nucleusmoe_image.pipeline_nucleusmoe_image import DEFAULT_SYSTEM_PROMPT

    ROOT.mkdir(parents=True, exist_ok=True)
    write_model(DEFAULT_SYSTEM_PROMPT)
    runs = {"fp32": pipeline(torch.float32), "bf16": pipeline(torch.bfloat16)}
    pipeline_case(runs)
    text_case(runs)
    vae_case(runs)
    print("wrote", ROOT)


if __name__ == "__main__":
    main()
