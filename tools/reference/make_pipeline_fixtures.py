"""A tiny Nucleus-Image checkpoint in the release layout and what diffusers' NucleusMoEImagePipeline makes with it.

Writes test/fixtures/pipeline/:
  tiny/                    model_index.json, scheduler/, transformer/ (tiny, 4 latent channels), vae/ (tiny, z_dim 4)
  cfg-4-steps.safetensors  prompt/negative embeddings + masks, initial packed latents, and diffusers' results:
                           the final packed latents (output_type="latent"), the float image and the uint8 image
  vae-decode.safetensors   packed latents and the VAE decode of them exactly as the pipeline does it
  schedules.json           FlowMatchEulerDiscreteScheduler sigmas/timesteps for the released config and variants
Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_pipeline_fixtures.py
"""

import copy
import json
import pathlib
import shutil
import sys

import numpy as np
import torch
from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, NucleusMoEImagePipeline
from safetensors.torch import save_file
from transformers import PreTrainedTokenizerFast, Qwen3VLForConditionalGeneration

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_dit_fixtures import MODELS, build, save_model  # noqa: E402
from make_text_fixtures import QWEN, randomized, tiny_encoder_config  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
ROOT = REPO / "test" / "fixtures" / "pipeline"
# tiny-b with a text width of 8, so that the tiny text encoder below (vocabulary of Qwen's 151,936 tokens) stays small.
TRANSFORMER = {**MODELS["tiny-b"], "joint_attention_dim": 8}


class TextProcessor:
    """What NucleusMoEImagePipeline asks of its processor for text prompts (apply_chat_template and __call__),
    backed by a transformers tokenizer and our chat template: Qwen3VLProcessor's image side needs torchvision,
    which cannot be installed beside the CPU torch build here."""

    def __init__(self, template: str, tokenizer_file: pathlib.Path = QWEN / "tokenizer.json"):
        self.tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_file), pad_token="<|endoftext|>",
                                                 eos_token="<|im_end|>")
        self.tokenizer.chat_template = template

    def apply_chat_template(self, messages, **kwargs):
        return self.tokenizer.apply_chat_template(messages, **kwargs)

    def __call__(self, text, **kwargs):
        return self.tokenizer(text, **kwargs)

RELEASED_SCHEDULER = {
    "_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 1.0,
    "use_dynamic_shifting": False, "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256,
    "max_image_seq_len": 4096, "time_shift_type": "exponential", "shift_terminal": None, "invert_sigmas": False,
    "stochastic_sampling": False, "use_karras_sigmas": False, "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
}
VAE = dict(base_dim=8, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
           temperal_downsample=[False, True, True], dropout=0.0, input_channels=3,
           latents_mean=[0.31, -0.52, 0.07, 1.2], latents_std=[1.7, 0.8, 2.3, 1.1])


def build_vae() -> AutoencoderKLQwenImage:
    torch.manual_seed(5)
    vae = AutoencoderKLQwenImage(**VAE)
    with torch.no_grad():
        for name, parameter in vae.named_parameters():
            if name.endswith("gamma"):
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.copy_(0.05 * torch.randn_like(parameter))
            else:
                fan_in = parameter[0].numel()
                parameter.copy_(torch.randn_like(parameter) / fan_in ** 0.5)
    return vae.eval()


def schedules() -> list[dict]:
    variants = {
        "released": {},
        "static-shift-3": {"shift": 3.0},
        "dynamic-exponential": {"use_dynamic_shifting": True},
        "dynamic-linear": {"use_dynamic_shifting": True, "time_shift_type": "linear"},
        "shift-terminal": {"shift": 2.0, "shift_terminal": 0.1},
        "karras": {"use_karras_sigmas": True, "shift": 1.5},
        "exponential": {"use_exponential_sigmas": True},
        "beta": {"use_beta_sigmas": True},
        "inverted": {"invert_sigmas": True},
    }
    cases = []
    for name, change in variants.items():
        for steps, image_seq_len in ((4, 15), (50, 4096), (7, 1024)):
            config = {**RELEASED_SCHEDULER, **change}
            scheduler = FlowMatchEulerDiscreteScheduler.from_config(config)
            sigmas = np.linspace(1.0, 1 / steps, steps)
            # The pipeline's mu (calculate_shift), used only when dynamic shifting is on.
            m = (config["max_shift"] - config["base_shift"]) / (config["max_image_seq_len"] - config["base_image_seq_len"])
            mu = image_seq_len * m + config["base_shift"] - m * config["base_image_seq_len"]
            scheduler.set_timesteps(sigmas=sigmas, mu=mu)
            cases.append({"name": name, "config": config, "steps": steps, "image_seq_len": image_seq_len,
                          "sigmas": scheduler.sigmas.tolist(), "timesteps": scheduler.timesteps.tolist()})
    return cases


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    model_dir = ROOT / "tiny"
    transformer = build(TRANSFORMER, 200, torch.float32)
    save_model(transformer, model_dir / "transformer", "600KB")
    vae = build_vae()
    vae.save_pretrained(model_dir / "vae", safe_serialization=True)
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(RELEASED_SCHEDULER)
    scheduler.save_pretrained(model_dir / "scheduler")
    (model_dir / "model_index.json").write_text(json.dumps({
        "_class_name": "NucleusMoEImagePipeline", "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "transformer": ["diffusers", "NucleusMoEImageTransformer2DModel"],
        "vae": ["diffusers", "AutoencoderKLQwenImage"],
        "text_encoder": [None, None], "processor": [None, None]}, indent=2) + "\n")

    pipe = NucleusMoEImagePipeline(transformer=transformer, scheduler=scheduler, vae=vae, text_encoder=None,
                                   processor=None)
    generator = torch.Generator().manual_seed(20261126)
    joint = TRANSFORMER["joint_attention_dim"]
    height, width = 48, 80  # latent 6 x 10, grid 3 x 5: not square
    grid_h, grid_w = height // 16, width // 16
    prompt = torch.randn(1, 11, joint, generator=generator)
    prompt_mask = torch.tensor([[1] * 8 + [0] * 3])
    negative = torch.randn(1, 7, joint, generator=generator)
    negative_mask = torch.ones(1, 7, dtype=torch.long)
    latents = torch.randn(1, grid_h * grid_w, MODELS["tiny-b"]["in_channels"], generator=generator)
    common = dict(prompt_embeds=prompt, prompt_embeds_mask=prompt_mask, negative_prompt_embeds=negative,
                  negative_prompt_embeds_mask=negative_mask, height=height, width=width, num_inference_steps=4,
                  guidance_scale=3.5)
    with torch.no_grad():
        final_latents = pipe(latents=latents.clone(), output_type="latent", **common).images
        image_float = pipe(latents=latents.clone(), output_type="np", **common).images
        image_pil = pipe(latents=latents.clone(), output_type="pil", **common).images[0]
    save_file({
        "prompt_embeds": prompt, "prompt_embeds_mask": prompt_mask.int(), "negative_prompt_embeds": negative,
        "negative_prompt_embeds_mask": negative_mask.int(), "latents": latents, "output_latents": final_latents,
        "image_float": torch.from_numpy(np.ascontiguousarray(image_float)),
        "image_uint8": torch.from_numpy(np.ascontiguousarray(np.array(image_pil))),
    }, str(ROOT / "cfg-4-steps.safetensors"), metadata={"height": str(height), "width": str(width), "steps": "4",
                                                        "guidance_scale": "3.5"})

    # The VAE alone, as the pipeline decodes: unpack, z = latents / (1 / std) + mean, decode, clamp, frame 0.
    packed = torch.randn(1, grid_h * grid_w, MODELS["tiny-b"]["in_channels"], generator=generator)
    with torch.no_grad():
        unpacked = pipe._unpack_latents(packed, height, width, 2, pipe.vae_scale_factor)
        mean = torch.tensor(VAE["latents_mean"]).view(1, 4, 1, 1, 1)
        inverse_std = 1.0 / torch.tensor(VAE["latents_std"]).view(1, 4, 1, 1, 1)
        decoded = vae.decode(unpacked / inverse_std + mean, return_dict=False)[0][:, :, 0]
    save_file({"latents": packed, "image": decoded.contiguous(), "grid": torch.tensor([grid_h, grid_w], dtype=torch.int32)},
              str(ROOT / "vae-decode.safetensors"))

    (ROOT / "schedules.json").write_text(json.dumps(schedules(), indent=1) + "\n")
    text_prompt_case(model_dir, transformer, vae, scheduler)

    # Seeded noise as NumPy's legacy generator makes it, and packed into initial latents like diffusers does.
    noise = {f"seed_{seed}": torch.from_numpy(np.random.RandomState(seed).standard_normal(1000).astype(np.float32))
             for seed in (0, 42, 4294967295)}
    unpacked = np.random.RandomState(42).standard_normal((1, 4, 2 * grid_h, 2 * grid_w)).astype(np.float32)
    noise["packed_seed_42"] = pipe._pack_latents(torch.from_numpy(unpacked), 1, 4, 2 * grid_h, 2 * grid_w, 2)[0]
    save_file(noise, str(ROOT / "noise.safetensors"), metadata={"grid": f"{grid_h}x{grid_w}", "channels": "4"})
    print("wrote", ROOT)


def text_prompt_case(model_dir, transformer, vae, scheduler) -> None:
    """A text encoder (Qwen's vocabulary, hidden size 8, 9 layers; tied embeddings so no second table) and the whole
    pipeline from a text prompt, with the default empty negative prompt."""
    config = tiny_encoder_config(151936, TRANSFORMER["joint_attention_dim"], 9, 2, 1, 8, 16)
    config.tie_word_embeddings = True
    config.text_config.tie_word_embeddings = True
    # Stored in bf16 like the release; the reference runs the same (bf16-valued) weights in float32. Rounding the
    # parameters in place keeps the rotary inv_freq buffer in float32: casting the module to bf16 and back would
    # round it too and bend every angle by position (transformers computes it in float32 when loading bf16).
    encoder = randomized(Qwen3VLForConditionalGeneration(config), 77)
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).float())
    copy.deepcopy(encoder).to(torch.bfloat16).save_pretrained(model_dir / "text_encoder", max_shard_size="1MB")
    template = json.loads((REPO / "test" / "fixtures" / "text" / "chat_template.json").read_text())["chat_template"]
    (model_dir / "processor").mkdir(exist_ok=True)
    (model_dir / "processor" / "chat_template.json").write_text(json.dumps({"chat_template": template}, indent=2) + "\n")
    pipe = NucleusMoEImagePipeline(transformer=transformer, scheduler=scheduler, vae=vae, text_encoder=encoder,
                                   processor=TextProcessor(template))
    prompt = "A red apple on a white table"
    height, width, seed = 48, 80, 1234
    grid_h, grid_w = height // 16, width // 16
    noise = np.random.RandomState(seed).standard_normal((1, 4, 2 * grid_h, 2 * grid_w)).astype(np.float32)
    latents = pipe._pack_latents(torch.from_numpy(noise), 1, 4, 2 * grid_h, 2 * grid_w, 2)
    with torch.no_grad():
        embeds, mask = pipe.encode_prompt(prompt=prompt, device="cpu")
        negative, negative_mask = pipe.encode_prompt(prompt="", device="cpu")
        common = dict(prompt=prompt, height=height, width=width, num_inference_steps=3, guidance_scale=3.5)
        final_latents = pipe(latents=latents.clone(), output_type="latent", **common).images
        image = pipe(latents=latents.clone(), output_type="pil", **common).images[0]
    tensors = {"prompt_embeds": embeds.contiguous(), "negative_prompt_embeds": negative.contiguous(),
               "output_latents": final_latents, "image_uint8": torch.from_numpy(np.ascontiguousarray(np.array(image)))}
    if mask is not None:
        tensors["prompt_embeds_mask"] = mask.int()
    if negative_mask is not None:
        tensors["negative_prompt_embeds_mask"] = negative_mask.int()
    save_file(tensors, str(ROOT / "text-prompt.safetensors"), metadata={
        "prompt": prompt, "height": str(height), "width": str(width), "seed": str(seed), "steps": "3",
        "guidance_scale": "3.5"})


if __name__ == "__main__":
    main()
