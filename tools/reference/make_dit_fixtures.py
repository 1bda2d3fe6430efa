"""Tiny random Nucleus-Image transformers (diffusers' NucleusMoEImageTransformer2DModel) and their outputs.

For every case: test/fixtures/dit/<model>/transformer/ is the model saved with save_pretrained (sharded, with an
index, like the release) and test/fixtures/dit/<case>.safetensors holds the inputs and diffusers' output.
Shapes and counts are deliberately unlike the release's (GQA ratios 1/2/3, 5/6/8 experts, odd grids, text lengths
that are not multiples of 8, capacities that round) so hard-coded numbers fail.

Run with the reference environment:  .deps/reference-python/bin/python tools/reference/make_dit_fixtures.py
       --full-width DIR   also writes the full-width two-block model (release sizes; ~1.4 GB bf16) to DIR
       --full-width-reference   only writes full-width.safetensors: the full-width two-block model with hashed
                          weights (below; the Swift test makes the same weights itself) run by diffusers on fixed
                          inputs, in float32 from the bf16 weights (~3 GB of memory, a minute)
"""

import argparse
import json
import pathlib
import shutil
import zlib

import numpy as np
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


def fnv1a(key: str) -> int:
    value = 0x811C9DC5
    for byte in key.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def hashed_levels(seed: int, first: int, count: int) -> np.ndarray:
    """The hash of NucleusModelTests/HashedWeights.swift: levels q in [-128, 127] of elements first..<first+count."""
    index = np.arange(first, first + count, dtype=np.uint64)
    x = ((index * 0x9E3779B1 + seed * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF).astype(np.uint32)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x2C1B3C6D)
    x ^= x >> np.uint32(12)
    x *= np.uint32(0x297A2D39)
    x ^= x >> np.uint32(15)
    return (x >> np.uint32(24)).astype(np.int32) - 128


def hashed_weight(key: str, shape: tuple, chunk: int = 1 << 24) -> torch.Tensor:
    """A checkpoint tensor of hashed weights, exactly representable in bf16, returned in float32: norm scales
    1 + (q >> 4) / 128, everything else q * 2^-e with e = 6 + ceil(log2(fan_in) / 2)."""
    fan_in = shape[1] if len(shape) == 3 else shape[-1]
    exponent = 6 + int(np.ceil(np.log2(fan_in) / 2))
    norm = key.endswith(".weight") and "norm" in key.split(".")[-2]
    count = int(np.prod(shape))
    out = np.empty(count, dtype=np.float32)
    for first in range(0, count, chunk):
        q = hashed_levels(fnv1a(key), first, min(chunk, count - first))
        out[first:first + len(q)] = 1 + (q >> 4) / 128 if norm else q * 2.0 ** -exponent
    return torch.from_numpy(out.reshape(shape))


def full_width_reference() -> None:
    """The full-width two-block model with hashed weights, on 64 image tokens (8 x 8) and 16 text tokens."""
    with torch.device("meta"):
        layout = {key: tuple(value.shape) for key, value in NucleusMoEImageTransformer2DModel(**FULL_WIDTH).state_dict().items()}
    model = NucleusMoEImageTransformer2DModel(**FULL_WIDTH).eval()
    with torch.no_grad():
        for key, parameter in model.state_dict().items():
            parameter.copy_(hashed_weight(key, layout[key]))
    assert all(torch.equal(p, p.to(torch.bfloat16).float()) for p in model.parameters()), "not bf16-exact"
    generator = torch.Generator().manual_seed(2048)
    latents = torch.randn(1, 64, 64, generator=generator)
    text = torch.randn(1, 16, 4096, generator=generator).to(torch.bfloat16).float()
    timestep = torch.tensor([0.5])
    with torch.no_grad():
        output = model(hidden_states=latents, img_shapes=[(1, 8, 8)], encoder_hidden_states=text,
                       encoder_hidden_states_mask=None, timestep=timestep, return_dict=False)[0]
    save_file({"latents": latents, "text": text.to(torch.bfloat16)[0].contiguous(), "timestep": timestep,
               "output": output.contiguous(), "grid": torch.tensor([8, 8], dtype=torch.int32)},
              str(ROOT / "full-width.safetensors"),
              metadata={"parameters": str(sum(p.numel() for p in model.parameters())), "weights": "hashed (see make_dit_fixtures.py)"})
    print("full-width", tuple(output.shape), f"rms {output.pow(2).mean().sqrt():.4f}")


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
    parser.add_argument("--full-width-reference", action="store_true")
    args = parser.parse_args()

    if args.full_width_reference:
        full_width_reference()
        return

    if args.full_width:
        model = build(FULL_WIDTH, 7, torch.bfloat16)
        save_model(model, args.full_width / "transformer", "400MB")
        print("wrote", args.full_width)
        return

    for entry in ROOT.glob("*"):  # everything but the full-width reference, which has its own flag
        if entry.name != "full-width.safetensors":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    ROOT.mkdir(parents=True, exist_ok=True)
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
        "Each <case>.safetensors names its model folder in its metadata.\n"
        "full-width.safetensors (--full-width-reference): inputs and output of the full-width two-block model with\n"
        "hashed weights, which the Swift test (FullWidthTests) writes itself.\n")


if __name__ == "__main__":
    main()
