#!/usr/bin/env python3
"""A short table from run-gpu-checks.sh's results.jsonl: parity, every DiT variant next to diffusers' eager forward
in the same run (ratio = ours / theirs), text encoder, VAE, memory, and the issue's targets.

  summarize.py results.jsonl
"""

import json
import sys


def load(path):
    rows = []
    step = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("event") == "config":
                step = row  # the settings of the run the following lines belong to
            row["_config"] = step
            rows.append(row)
    return rows


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:8.1f} ms"


def main():
    rows = load(sys.argv[1])
    out = []
    steps = [r for r in rows if r.get("event") == "step"]
    out.append("steps: " + ", ".join(
        f"{s['step']} " + ("skipped" if "skipped" in s else f"rc={s['rc']}{' TIMEOUT' if s.get('timed_out') else ''} {s['seconds']}s")
        for s in steps))
    checks = [r for r in rows if r.get("event") == "kit_check"]
    if checks:
        c = checks[-1]
        out.append(f"kit check: pass={c['pass']} nvidia={c['nvidia']} driver={c['driver']} missing={c['missing']}")
    for summary in [r for r in rows if r.get("event") == "parity_summary"]:
        tf32 = (summary["_config"] or {}).get("MLX_ENABLE_TF32")
        failed = [r for r in rows if r.get("event") == "parity" and not r.get("pass") and r["_config"] is summary["_config"]]
        out.append(f"parity on {summary['backend']} (MLX_ENABLE_TF32={tf32}): {summary['passed']} passed, "
                   f"{summary['failed']} failed" + "".join(
                       f"\n    FAIL {r['case']} {dict((k, r[k]) for k in ('attention', 'bits', 'expert_path', 'linear_path') if k in r)}"
                       f" max={r.get('max_error')} rms={r.get('rms_error')} bound_max={r.get('bound_max')} bound_rms={r.get('bound_rms')}"
                       f" {r.get('message', '')}" for r in failed[:12]))

    theirs = {}
    for r in rows:
        if r.get("impl") == "diffusers" and r.get("event") == "dit_forward":
            theirs[(r["size"], r["text_cache"])] = r["median_s"]
    theirs_vae = {r["size"]: r["median_s"] for r in rows if r.get("impl") == "diffusers" and r.get("event") == "vae_decode"}

    out.append("DiT forward, batch 2 (median); ratio = ours / diffusers eager (text-K/V cache off | on)")
    best = {}
    for r in rows:
        if r.get("event") != "dit_forward" or r.get("impl"):
            continue
        c = r["_config"] or {}
        quant = f"experts {c.get('expert_quantize') or 'bf16'}" + (f", linears {c['quantize']}-bit" if c.get("quantize") else "")
        graphs = "" if (c.get("env") or {}).get("MLX_USE_CUDA_GRAPHS") is None else f" graphs={c['env']['MLX_USE_CUDA_GRAPHS']}"
        off, on = theirs.get((r["size"], "off")), theirs.get((r["size"], "on"))
        ratio = "" if off is None else f"  ratio {r['median_s'] / off:5.2f} | {r['median_s'] / on:5.2f}" if on else f"  ratio {r['median_s'] / off:5.2f}"
        agree = r.get("rel_rms_vs_first_variant")
        out.append(f"  {r['size']:5d} {r['text_cache']:4s} {quant:22s} attn={r['attention']:7s} experts={r['expert_path']:10s}"
                   f" linears={r['linear_path']:10s}{graphs} {ms(r['median_s'])}{ratio}"
                   + ("" if agree is None else f"  vs first variant {agree:.1e}"))
        if r["text_cache"] == "warm" and not graphs:
            key = (r["size"], quant)
            best[key] = min(best.get(key, 9e9), r["median_s"])
    for (size, cache), seconds in sorted(theirs.items()):
        out.append(f"  {size:5d} diffusers eager, text-K/V cache {cache}: {ms(seconds)}")
    for r in rows:
        if r.get("event") == "error":
            out.append(f"  ERROR {r.get('impl', 'ours')} {r.get('part')} {r.get('size', '')}: {r.get('message', '')[:300]}")

    for r in rows:
        if r.get("event") == "text_encoder":
            out.append(f"text encoder, {r['tokens']} tokens to hidden state -8 ({r['layers']} layers): {ms(r['median_s'])} (target <= 50 ms)")
        if r.get("event") == "vae_decode" and not r.get("impl"):
            t = theirs_vae.get(r["size"])
            out.append(f"VAE decode {r['size']}: ours {ms(r['median_s'])}, diffusers {ms(t)}"
                       + ("" if t is None else f", ratio {r['median_s'] / t:.2f} (target <= 1)"))
        if r.get("event") == "image_estimate":
            out.append(f"image estimate {r['size']}, {r['steps']} steps: {r['seconds']:.2f} s ({r['formula']})")
        if r.get("event") == "build":
            who = r.get("impl", "ours")
            out.append(f"build {who} {r['component']}: {r['parameters']:,} parameters, {r['seconds']:.1f} s")
        if "gflops" in r and "name" in r:
            out.append(f"ops {r['dtype']} {r['name']}: {r['gflops'] / 1000:.1f} TFLOP/s")
        if r.get("event") == "memory":
            out.append(f"peak MLX memory ({r['part']}, {((r['_config'] or {}).get('expert_quantize') or 'bf16')} experts): {r['peak_bytes'] / 2**30:.1f} GiB")

    out.append("targets:")
    bf16 = best.get((1024, "experts bf16"))
    off = theirs.get((1024, "off"))
    if bf16 and off:
        out.append(f"  DiT 1024 bf16 <= 1/3 diffusers eager: {bf16 * 1000:.1f} ms vs {off * 1000 / 3:.1f} ms -> {'MET' if bf16 <= off / 3 else 'not met'}")
    for bits in (8, 4):
        q = best.get((1024, f"experts {bits}"))
        if q and bf16:
            out.append(f"  {bits}-bit experts no slower than bf16 at 1024: {q * 1000:.1f} ms vs {bf16 * 1000:.1f} ms -> {'MET' if q <= bf16 * 1.02 else 'not met'}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
