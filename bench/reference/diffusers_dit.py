"""diffusers' NucleusMoEImageTransformer2DModel on the CPU, for bench/dit-forward.ts.

  diffusers_dit.py make --preset mid|full-width --out DIR     random weights saved with save_pretrained (DIR/transformer)
  diffusers_dit.py time --model DIR --grid H W --text L --batch B --dtype float32 --repeats N
      prints {"seconds": median forward seconds, "max_rss_bytes": ...} as JSON
"""

import argparse
import json
import pathlib
import resource
import statistics
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


def timed(args) -> None:
    dtype = getattr(torch, args.dtype)
    model = NucleusMoEImageTransformer2DModel.from_pretrained(args.model, subfolder="transformer", torch_dtype=dtype)
    model.eval()
    config = model.config
    h, w = args.grid
    latents = torch.randn(args.batch, h * w, config.in_channels, dtype=dtype)
    text = torch.randn(args.batch, args.text, config.joint_attention_dim, dtype=dtype)
    timestep = torch.full((args.batch,), 0.5)
    times = []
    with torch.inference_mode():
        for index in range(args.repeats + 1):
            started = time.perf_counter()
            model(hidden_states=latents, img_shapes=[(1, h, w)] * args.batch, encoder_hidden_states=text,
                  timestep=timestep, return_dict=False)
            if index > 0:  # the first run warms up
                times.append(time.perf_counter() - started)
    print(json.dumps({"seconds": statistics.median(times),
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
make_parser = sub.add_parser("make")
make_parser.add_argument("--preset", choices=["mid", "full-width"], required=True)
make_parser.add_argument("--out", required=True)
time_parser = sub.add_parser("time")
time_parser.add_argument("--model", required=True)
time_parser.add_argument("--grid", type=int, nargs=2, required=True)
time_parser.add_argument("--text", type=int, default=128)
time_parser.add_argument("--batch", type=int, default=1)
time_parser.add_argument("--dtype", default="float32")
time_parser.add_argument("--repeats", type=int, default=3)
arguments = parser.parse_args()
make(arguments) if arguments.command == "make" else timed(arguments)
