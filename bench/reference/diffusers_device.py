"""diffusers' side of the device benchmark (scripts/device-kit.sh puts it in the kit; run-gpu-checks.sh runs it in the
same run as `nucleus-bench model`): NucleusMoEImageTransformer2DModel and AutoencoderKLQwenImage with random weights
made on the device (no checkpoint I/O), eager PyTorch, the same configs, batch, sizes and text length as ours.

  diffusers_device.py [--preset full|mid] [--device cuda|cpu] [--dtype bfloat16|float32] [--sizes 512,1024]
                      [--text 128] [--batch 2] [--repeats 5] [--warmup 2] [--parts dit,vae] [--grouped-mm on|off]

One JSON object per line on stdout, flushed as each number is known.
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch

# The release's transformer/config.json, and the mid-size config of bench/reference/diffusers_dit.py.
FULL = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=32, attention_head_dim=128, num_attention_heads=16,
            num_key_value_heads=4, joint_attention_dim=4096, axes_dims_rope=[16, 56, 56], mlp_ratio=4.0,
            moe_enabled=True, dense_moe_strategy="leave_first_three_blocks_dense", num_experts=64,
            moe_intermediate_dim=1344, capacity_factors=[0, 0, 0, 4, 4] + [2] * 27, use_sigmoid=False, route_scale=2.5)
MID = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=8, attention_head_dim=64, num_attention_heads=8,
           num_key_value_heads=2, joint_attention_dim=1024, axes_dims_rope=[8, 28, 28], mlp_ratio=4.0,
           moe_enabled=True, dense_moe_strategy="leave_first_three_blocks_dense", num_experts=16,
           moe_intermediate_dim=336, capacity_factors=[0, 0, 0, 4, 4, 2, 2, 2], use_sigmoid=False, route_scale=2.5)


def emit(**fields) -> None:
    print(json.dumps({"impl": "diffusers", **fields}), flush=True)


def randomize(model: torch.nn.Module, seed: int) -> None:
    """The scales nucleus-bench uses: weights normal/sqrt(fan_in), biases normal*0.02, norm weights 1 + normal*0.02.
    (SwiGLUExperts allocates its stacks with torch.empty: they must be filled.)"""
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator, device=parameter.device, dtype=torch.float32)
            if parameter.ndim == 1 or name.endswith("gamma"):
                value = noise * 0.02 if name.endswith("bias") else 1 + noise * 0.02
            elif ".experts." in name:  # [E, in, out]
                value = noise / math.sqrt(parameter.shape[1])
            else:  # linear [out, in]; conv [out, in, (t,) h, w]: only the last temporal slice touches an image
                fan_in = parameter[0].numel() // (parameter.shape[2] if parameter.ndim == 5 else 1)
                value = noise / math.sqrt(fan_in)
            parameter.copy_(value.to(parameter.dtype))
            del noise, value


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(device: str, warmup: int, repeats: int, body) -> list:
    for _ in range(warmup):
        body()
    synchronize(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        body()
        synchronize(device)
        times.append(time.perf_counter() - started)
    return sorted(times)


def timing(times: list) -> dict:
    return {"median_s": statistics.median(times), "min_s": times[0], "runs_s": times}


def peak(device: str) -> int:
    return torch.cuda.max_memory_allocated() if device == "cuda" else 0


def transformer(args, dtype) -> None:
    from diffusers import NucleusMoEImageTransformer2DModel, TextKVCacheConfig

    config = dict(FULL if args.preset == "full" else MID, use_grouped_mm=args.grouped_mm == "on")
    started = time.perf_counter()
    torch.set_default_dtype(dtype)
    with torch.device(args.device):
        model = NucleusMoEImageTransformer2DModel(**config)
    torch.set_default_dtype(torch.float32)
    randomize(model, 0)
    model.eval()
    synchronize(args.device)
    parameters = sum(p.numel() for p in model.parameters())
    emit(event="build", component="transformer", parameters=parameters, seconds=time.perf_counter() - started,
         grouped_mm=config["use_grouped_mm"])
    generator = torch.Generator(device=args.device).manual_seed(1)
    text = torch.randn(args.batch, args.text, config["joint_attention_dim"], generator=generator, device=args.device).to(dtype)
    timestep = torch.full((args.batch,), 0.5, device=args.device)
    for cached in (False, True):
        if cached:
            model.enable_cache(TextKVCacheConfig())
        for size in args.sizes:
            h = w = size // 16
            latents = torch.randn(args.batch, h * w, config["in_channels"], generator=generator, device=args.device).to(dtype)

            def forward():
                return model(hidden_states=latents, img_shapes=[(1, h, w)] * args.batch, encoder_hidden_states=text,
                             timestep=timestep, return_dict=False)[0]

            try:
                with torch.inference_mode():
                    output = forward()
                    times = timed(args.device, args.warmup, args.repeats, forward)
                emit(event="dit_forward", size=size, batch=args.batch, text_tokens=args.text,
                     text_cache="on" if cached else "off", **timing(times),
                     max_abs=float(output.float().abs().max()), peak_bytes=peak(args.device))
            except Exception as error:  # noqa: BLE001 - report and go on to the next case
                emit(event="error", part="dit_forward", size=size, message=repr(error))
    del model
    if args.device == "cuda":
        torch.cuda.empty_cache()


def vae(args, dtype) -> None:
    from diffusers import AutoencoderKLQwenImage

    started = time.perf_counter()
    torch.set_default_dtype(dtype)
    with torch.device(args.device):
        model = AutoencoderKLQwenImage()
    torch.set_default_dtype(torch.float32)
    randomize(model, 2)
    model.eval()
    synchronize(args.device)
    emit(event="build", component="vae", parameters=sum(p.numel() for p in model.parameters()),
         seconds=time.perf_counter() - started)
    generator = torch.Generator(device=args.device).manual_seed(3)
    for size in args.sizes:
        latents = torch.randn(1, model.config.z_dim, 1, size // 8, size // 8, generator=generator, device=args.device).to(dtype)
        try:
            with torch.inference_mode():
                times = timed(args.device, args.warmup, args.repeats, lambda: model.decode(latents, return_dict=False)[0])
            emit(event="vae_decode", size=size, batch=1, **timing(times), peak_bytes=peak(args.device))
        except Exception as error:  # noqa: BLE001
            emit(event="error", part="vae_decode", size=size, message=repr(error))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", choices=["full", "mid"], default="full")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default=None)
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--text", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--parts", default="dit,vae")
    parser.add_argument("--grouped-mm", choices=["on", "off"], default=None)
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.dtype = args.dtype or ("bfloat16" if args.device == "cuda" else "float32")
    # The released config enables grouped_mm; it needs CUDA (sm >= 80), so the CPU runs the loop path.
    args.grouped_mm = args.grouped_mm or ("on" if args.device == "cuda" else "off")
    dtype = getattr(torch, args.dtype)
    import diffusers

    emit(event="config", preset=args.preset, device=args.device,
         device_name=torch.cuda.get_device_name() if args.device == "cuda" else "cpu", dtype=args.dtype,
         sizes=args.sizes, text_tokens=args.text, batch=args.batch, repeats=args.repeats,
         torch_version=torch.__version__, diffusers_version=diffusers.__version__, python=sys.version.split()[0])
    parts = args.parts.split(",")
    if "dit" in parts:
        transformer(args, dtype)
    if "vae" in parts:
        vae(args, dtype)
    emit(event="done")


if __name__ == "__main__":
    main()
