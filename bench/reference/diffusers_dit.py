"""diffusers' NucleusMoEImageTransformer2DModel on the CPU, for bench/dit-forward.ts.

  diffusers_dit.py make --preset mid|full-width --out DIR     random weights saved with save_pretrained (DIR/transformer)
  diffusers_dit.py serve --model DIR --dtype float32
      loads once, then answers each line {"grid": [H, W], "text": L, "batch": B, "repeats": N} on standard input
      with {"runs": [seconds of each forward], "max_rss_bytes": ...}; the first request of each shape warms up
"""

import argparse
import json
import pathlib
import resource
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "reference"))
from make_dit_fixtures import FULL_WIDTH, build, save_model  # noqa: E402
from diffusers import NucleusMoEImageTransformer2DModel  # noqa: E402

MID = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=8, attention_head_dim=64, num_attention_heads=8,
           num_key_value_heads=2, joint_attention_dim=1024, axes_dims_rope=[8, 28, 28], mlp_ratio=4.0,
           moe_enabled=True, dense_moe_strategy="leave_first_three_blocks_dense", num_experts=16,
           moe_intermediate_dim=336, capacity_factors=[0, 0, 0, 4, 4, 2, 2, 2], use_sigmoid=False, route_scale=2.5,
           use_grouped_mm=False)


def make(args) -> None:
    config = MID if args.preset == "mid" else FULL_WIDTH
    model = build(config, 11, torch.bfloat16)
    save_model(model, pathlib.Path(args.out) / "transformer", "2GB")


def load(args):
    dtype = getattr(torch, args.dtype)
    model = NucleusMoEImageTransformer2DModel.from_pretrained(args.model, subfolder="transformer", torch_dtype=dtype)
    model.eval()
    return model, dtype


def forward_times(model, dtype, grid, text_length: int, batch: int, runs: int) -> list:
    config = model.config
    h, w = grid
    latents = torch.randn(batch, h * w, config.in_channels, dtype=dtype)
    text = torch.randn(batch, text_length, config.joint_attention_dim, dtype=dtype)
    timestep = torch.full((batch,), 0.5)
    times = []
    with torch.inference_mode():
        for _ in range(runs):
            started = time.perf_counter()
            model(hidden_states=latents, img_shapes=[(1, h, w)] * batch, encoder_hidden_states=text,
                  timestep=timestep, return_dict=False)
            times.append(time.perf_counter() - started)
    return times


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def serve(args) -> None:
    model, dtype = load(args)
    warmed = set()
    for line in sys.stdin:
        request = json.loads(line)
        shape = (tuple(request["grid"]), request["text"], request["batch"])
        if shape not in warmed:
            forward_times(model, dtype, *shape, 1)
            warmed.add(shape)
        runs = forward_times(model, dtype, *shape, request["repeats"])
        print(json.dumps({"runs": runs, "max_rss_bytes": max_rss_bytes()}), flush=True)


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
make_parser = sub.add_parser("make")
make_parser.add_argument("--preset", choices=["mid", "full-width"], required=True)
make_parser.add_argument("--out", required=True)
serve_parser = sub.add_parser("serve")
serve_parser.add_argument("--model", required=True)
serve_parser.add_argument("--dtype", default="float32")
arguments = parser.parse_args()
{"make": make, "serve": serve}[arguments.command](arguments)
