"""diffusers' AutoencoderKLQwenImage decode on the CPU, for bench/vae-decode.ts.

  diffusers_vae.py make --out DIR       the release-size VAE with random weights, saved with save_pretrained (DIR/vae)
  diffusers_vae.py time --model DIR --height H --width W [--repeats N]
      float32; decodes one image of H × W (after a 256² warm-up), timing vae.decode as the pipeline calls it on
      [1, z, 1, H/8, W/8] latents; prints {"seconds": median, "max_rss_bytes": ...} as JSON
"""

import argparse
import json
import pathlib
import resource
import statistics
import time

import torch
from diffusers import AutoencoderKLQwenImage


def random_vae() -> AutoencoderKLQwenImage:
    """The release architecture (diffusers' defaults) with weights of sensible scale: unit norms, zero biases."""
    torch.manual_seed(3)
    vae = AutoencoderKLQwenImage()
    with torch.no_grad():
        for name, parameter in vae.named_parameters():
            if name.endswith("gamma"):
                parameter.fill_(1.0)
            elif name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.copy_(torch.randn_like(parameter) / parameter[0].numel() ** 0.5)
    return vae


def make(args) -> None:
    random_vae().to(torch.bfloat16).save_pretrained(pathlib.Path(args.out) / "vae", safe_serialization=True)


def decode(vae, height: int, width: int) -> float:
    config = vae.config
    latents = torch.randn(1, config.z_dim, 1, height // 8, width // 8)
    # The pipeline de-normalises first: latents / (1 / std) + mean.
    mean = torch.tensor(config.latents_mean).view(1, config.z_dim, 1, 1, 1)
    inverse_std = 1.0 / torch.tensor(config.latents_std).view(1, config.z_dim, 1, 1, 1)
    started = time.perf_counter()
    vae.decode(latents / inverse_std + mean, return_dict=False)
    return time.perf_counter() - started


def timed(args) -> None:
    vae = AutoencoderKLQwenImage.from_pretrained(args.model, subfolder="vae", torch_dtype=torch.float32)
    vae.eval()
    with torch.inference_mode():
        decode(vae, 256, 256)  # warm-up
        times = [decode(vae, args.height, args.width) for _ in range(args.repeats)]
    print(json.dumps({"seconds": statistics.median(times),
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("make").add_argument("--out", required=True)
    time_parser = sub.add_parser("time")
    time_parser.add_argument("--model", required=True)
    time_parser.add_argument("--height", type=int, required=True)
    time_parser.add_argument("--width", type=int, required=True)
    time_parser.add_argument("--repeats", type=int, default=1)
    arguments = parser.parse_args()
    make(arguments) if arguments.command == "make" else timed(arguments)
