"""PyTorch (CPU) on the same shapes as `nucleus-bench ops`: one JSON object per line.

Usage: torch_ops.py [--dtype float32|bfloat16] [--seconds S]
The 4-bit rows have no PyTorch counterpart; the driver compares them with PyTorch's dense result.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
parser.add_argument("--seconds", type=float, default=1.0)
args = parser.parse_args()
dtype = getattr(torch, args.dtype)
torch.manual_seed(0)


def measure(body) -> float:
    with torch.inference_mode():
        body()
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < args.seconds and len(times) < 50):
            t0 = time.perf_counter()
            body()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report(name: str, seconds: float, flops: float) -> None:
    print(json.dumps({"name": name, "dtype": args.dtype, "seconds": seconds, "gflops": flops / seconds / 1e9}), flush=True)


width = 2048
for tokens in (1024, 4096):
    x = torch.randn(tokens, width, dtype=dtype)
    w = (torch.randn(width, width) * 0.02).to(dtype)
    report(f"linear M={tokens} 2048->2048", measure(lambda: F.linear(x, w)), 2.0 * tokens * width * width)

for fan_in, fan_out in ((512, 512), (512, 2048), (2048, 512)):
    x = torch.randn(1024, fan_in, dtype=dtype)
    w = (torch.randn(fan_out, fan_in) * 0.02).to(dtype)
    report(f"linear M=1024 {fan_in}->{fan_out}", measure(lambda: F.linear(x, w)), 2.0 * 1024 * fan_in * fan_out)
mid_stack = (torch.randn(16, 512, 336) * 0.02).to(dtype)
mid_tokens = torch.randn(16, 256, 512, dtype=dtype)
report("experts 16x256x512x336", measure(lambda: torch.bmm(mid_tokens, mid_stack)), 2.0 * 16 * 256 * 512 * 336)

stack = (torch.randn(64, width, 2688) * 0.02).to(dtype)
for capacity in (32, 128):
    x = torch.randn(64, capacity, width, dtype=dtype)
    report(f"experts 64x{capacity}x2048x2688", measure(lambda: torch.bmm(x, stack)), 2.0 * 64 * capacity * width * 2688)

for heads, kv_heads, head_dim in ((16, 4, 128), (8, 2, 64)):
    q = torch.randn(1, heads, 1024, head_dim, dtype=dtype)
    k = torch.randn(1, kv_heads, 1152, head_dim, dtype=dtype)
    v = torch.randn(1, kv_heads, 1152, head_dim, dtype=dtype)
    report(f"attention {heads}q/{kv_heads}kv heads d{head_dim} S=1024 over 1152",
           measure(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)), 4.0 * heads * 1024 * 1152 * head_dim)
