"""Tiny random Nucleus-Image transformers (diffusers' NucleusMoEImageTransformer2DModel) and their outputs.

For every case: test/fixtures/dit/<model>/transformer/ is the model saved with save_pretrained (sharded, with an
index, like the release) and test/fixtures/dit/<case>.safetensors holds the inputs and diffusers' output.
Shapes and counts are deliberately unlike the release's (GQA ratios 1/2/3, 5/6/8 experts, odd grids, text lengths
that are not multiples of 8, capacities that round) so hard-coded numbers fail.

Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_dit_fixtures.py
       --full-width DIR   also writes the full-width two-block model (release sizes; ~1.4 GB bf16) to DIR
"""

import argparse
import json
import pathlib
import shutil
import zlib

import torch
from diffusers import NucleusMoEImageTransformer2DModel
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "dit"

MODELS = {
    # GQA 2, 6 experts, MoE from block 1, capacity factors that round.
    "tiny-a": dict(patch_size=2, in_channels=64, out_channels=16, num_layers=4, attention_head_dim=16,
                   num_attention_heads=4, num_key_value_heads=2, joint_attention_dim=24, axes_dims_rope=[4, 6, 6],
                   mlp_ratio=4.0, moe_enabled=True, dense_moe_strategy="leave_first_block_dense", num_experts=6,
                   moe_intermediate_dim=24, capacity_factors=[0.0, 3.3, 1.7, 2.0], use_sigmoid=False,
                   route_scale=2.5, use_grouped_mm=False),
    # GQA 3, 5 experts, 4 latent channels (in_channels 16), odd head split of RoPE axes.
    "tiny-b": dict(patch_size=2, in_channels=16, out_channels=4, num_layers=3, attention_head_dim=16,
                   num_attention_heads=6, num_key_value_heads=2, joint_attention_dim=40, axes_dims_rope=[4, 6, 6],
                   mlp_ratio=4.0, moe_enabled=True, dense_moe_strategy="leave_first_block_dense", num_experts=5,
                   moe_intermediate_dim=24, capacity_factors=[0.0, 2.7, 4.0], use_sigmoid=False,
                   route_scale=1.5, use_grouped_mm=False),
    # Plain multi-head attention (KV heads default to query heads), all blocks MoE, capacity 1.
    "tiny-c": dict(patch_size=2, in_channels=64, out_channels=16, num_layers=2, attention_head_dim=16,
                   num_attention_heads=4, num_key_value_heads=None, joint_attention_dim=24, axes_dims_rope=[4, 6, 6],
                   mlp_ratio=4.0, moe_enabled=True, dense_moe_strategy="all_moe", num_experts=8,
                   moe_intermediate_dim=16, capacity_factors=[1.0, 0.5], use_sigmoid=False, route_scale=2.5,
                   use_grouped_mm=False),
}

# case: model, dtype, batch, grid (h, w), text length, real tokens per sample (None = no mask), timesteps
CASES = {
    "a-fp32": ("tiny-a", torch.float32, 1, (6, 10), 13, None, [0.73]),
    "a-fp32-batch-masked": ("tiny-a", torch.float32, 2, (6, 10), 16, [11, 16], [0.41, 0.41]),
    "a-fp32-two-timesteps": ("tiny-a", torch.float32, 2, (5, 7), 9, None, [0.9, 0.2]),
    "b-fp32-odd": ("tiny-b", torch.float32, 1, (7, 5), 9, None, [0.55]),
    "c-fp32-mha": ("tiny-c", torch.float32, 1, (4, 4), 5, None, [1.0]),
    "a-bf16": ("tiny-a", torch.bfloat16, 1, (6, 10), 13, None, [0.73]),
}

FULL_WIDTH = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=2, attention_head_dim=128,
                  num_attention_heads=16, num_key_value_heads=4, joint_attention_dim=4096, axes_dims_rope=[16, 56, 56],
                  mlp_ratio=4.0, moe_enabled=True, dense_moe_strategy="leave_first_block_dense", num_experts=64,
                  moe_intermediate_dim=1344, capacity_factors=[0.0, 2.0], use_sigmoid=False, route_scale=2.5,
                  use_grouped_mm=False)


def build(config: dict, seed: int, dtype: torch.dtype) -> NucleusMoEImageTransformer2DModel:
    torch.manual_seed(seed)
    model = NucleusMoEImageTransformer2DModel(**config)
    # Expert weights are allocated uninitialised in diffusers: give every parameter defined random values.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name.split(".")[-2]:
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            else:
                fan_in = parameter.shape[-2] if parameter.ndim == 3 else parameter.shape[-1]
                parameter.copy_(torch.randn_like(parameter) / fan_in ** 0.5)
    return model.to(dtype).eval()


def save_model(model, folder: pathlib.Path, shard_size) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, max_shard_size=shard_size, safe_serialization=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full-width", type=pathlib.Path)
    args = parser.parse_args()

    if args.full_width:
        model = build(FULL_WIDTH, 7, torch.bfloat16)
        save_model(model, args.full_width / "transformer", "400MB")
        print("wrote", args.full_width)
        return

    shutil.rmtree(ROOT, ignore_errors=True)
    built = {}
    for index, (name, config) in enumerate(MODELS.items()):
        for dtype in (torch.float32, torch.bfloat16):
            suffix = "" if dtype == torch.float32 else "-bf16"
            if dtype == torch.bfloat16 and name != "tiny-a":
                continue
            model = build(config, 100 + index, dtype)
            save_model(model, ROOT / (name + suffix) / "transformer", "200KB")
            built[(name, dtype)] = model

    for case, (name, dtype, batch, (h, w), text_len, real, timesteps) in CASES.items():
        config = MODELS[name]
        model = built[(name, dtype)]
        generator = torch.Generator().manual_seed(zlib.crc32(case.encode()))
        latents = torch.randn(batch, h * w, config["in_channels"], generator=generator).to(dtype)
        text = torch.randn(batch, text_len, config["joint_attention_dim"], generator=generator).to(dtype)
        mask = None
        if real is not None:
            mask = torch.zeros(batch, text_len, dtype=torch.long)
            for row, count in enumerate(real):
                mask[row, :count] = 1
        timestep = torch.tensor(timesteps, dtype=torch.float32)
        with torch.no_grad():
            output = model(hidden_states=latents, img_shapes=[(1, h, w)] * batch, encoder_hidden_states=text,
                           encoder_hidden_states_mask=mask, timestep=timestep, return_dict=False)[0]
        tensors = {"latents": latents, "text": text, "timestep": timestep, "output": output,
                   "grid": torch.tensor([h, w], dtype=torch.int32)}
        if mask is not None:
            tensors["mask"] = mask.to(torch.int32)
        model_dir = name + ("" if dtype == torch.float32 else "-bf16")
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(ROOT / f"{case}.safetensors"),
                  metadata={"model": model_dir})
        print(case, "->", model_dir, tuple(output.shape), f"rms {output.float().pow(2).mean().sqrt():.4f}")

    (ROOT / "README.md").write_text(
        "Generated by tools/reference/make_dit_fixtures.py (diffusers NucleusMoEImageTransformer2DModel, CPU).\n"
        "Each <case>.safetensors names its model folder in its metadata.\n")


if __name__ == "__main__":
    main()
