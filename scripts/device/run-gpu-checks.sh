#!/usr/bin/env bash
# The GPU machine's one prepared run (copied into every kit by scripts/device-kit.sh): unpack the kit, check where
# its libraries come from, run `parity`, then `model --preset full` for bf16, 8-bit and 4-bit experts at 512² and
# 1024², then diffusers on the same GPU, all inside one budget (default 570 s, under the device tool's 600 s).
# Every part has a timeout taken from what is left; each prints JSON lines as it goes, appended to
# $OUT/results.jsonl, so a part that times out still leaves the numbers it had. A summary table prints last.
#
#   bash KIT/run-gpu-checks.sh [--budget SECONDS] [--preset full|mid] [--sizes 512,1024] [--repeats N]
#                              [--warmup N] [--python PATH] [--skip-reference]
#
# $OUT (the device tool sets it) receives results.jsonl, log.txt, summary.txt and ptx-cache.tar.xz; without $OUT
# they go to KIT/results. On the CPU (to test this script with a CPU kit) use --preset mid --sizes 256.
set -uo pipefail
export PATH="${PATH:-/usr/local/bin:/usr/bin:/bin}"
KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

budget=570
preset=full
sizes=512,1024
repeats=5
warmup=2
python="${NUCLEUS_PYTHON:-}"
reference=1
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget="$2"; shift 2 ;;
    --preset) preset="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --skip-reference) reference=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$python" ] || python="$(command -v python3 || true)"

out="${OUT:-$KIT/results}"
mkdir -p "$out"
results="$out/results.jsonl"
log="$out/log.txt"
: >"$results"
: >"$log"
started=$(date +%s)
left() { echo $((budget - ($(date +%s) - started))); }

# step NAME MAX_SECONDS RESERVE_SECONDS COMMAND...: runs COMMAND with a timeout of at most MAX_SECONDS, leaving
# RESERVE_SECONDS of the budget for the steps after it; its stdout (JSON lines) goes to results.jsonl, stderr to
# log.txt; a closing line records the step's exit status and time.
step() {
  local name="$1" max="$2" reserve="$3"
  shift 3
  local limit
  limit=$(( $(left) - reserve ))
  [ "$limit" -gt "$max" ] && limit=$max
  if [ "$limit" -lt 10 ]; then
    echo "{\"event\":\"step\",\"step\":\"$name\",\"skipped\":\"no time left\"}" | tee -a "$results"
    return
  fi
  echo "== $name (timeout ${limit}s): $*" | tee -a "$log" >&2
  local begun rc
  begun=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" </dev/null 2>>"$log" | tee -a "$results"
  rc=${PIPESTATUS[0]}
  echo "{\"event\":\"step\",\"step\":\"$name\",\"rc\":$rc,\"timed_out\":$([ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo true || echo false),\"seconds\":$(( $(date +%s) - begun ))}" | tee -a "$results"
}

bench=(bash "$KIT/run" nucleus-bench)
model=(model --preset "$preset" --sizes "$sizes" --repeats "$repeats" --warmup "$warmup")

{
  echo "{\"event\":\"machine\",\"host\":\"$(uname -n)\",\"kernel\":\"$(uname -r)\",\"glibc\":\"$(getconf GNU_LIBC_VERSION 2>/dev/null)\",\"python\":\"$python\",\"budget_s\":$budget}"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader 2>/dev/null |
      sed 's/"/\\"/g; s/^/{"event":"gpu","nvidia_smi":"/; s/$/"}/'
  fi
} | tee -a "$results"

[ -f "$KIT/ptx-cache.tar.xz" ] && tar -xJf "$KIT/ptx-cache.tar.xz" -C "$KIT" 2>>"$log"

# Reserves: what later steps need at least (parity 40, three model runs 3 x 60, diffusers 100, summary 10).
step unpack-and-check 60 330 bash "$KIT/run" --check
# The engine starts on this backend: its ready line names the backend (it exits when stdin closes).
step engine-ready 30 320 bash "$KIT/run" nucleus-engine --port 0 --exit-on-stdin-eof
step parity 90 290 "${bench[@]}" parity
step parity-tf32 25 280 env MLX_ENABLE_TF32=1 bash "$KIT/run" nucleus-bench parity --no-variants
step model-bf16 170 220 "${bench[@]}" "${model[@]}" --expert-paths batched,gather --attention fused,unfused
step model-experts-8bit 90 160 "${bench[@]}" "${model[@]}" --only dit --expert-quantize 8 --expert-paths batched,gather,per_expert
step model-experts-4bit 90 110 "${bench[@]}" "${model[@]}" --only dit --expert-quantize 4 --expert-paths batched,gather,per_expert
if [ "$reference" = 1 ]; then
  site="$(bash "$KIT/run" --unpack)/reference/site"
  step diffusers 150 10 env PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
    "$python" "$(bash "$KIT/run" --unpack)/reference/diffusers_device.py" --preset "$preset" --sizes "$sizes" \
    --repeats "$repeats" --warmup "$warmup"
fi
# With time to spare: the launch-bound forward without MLX's CUDA graphs, for comparison.
if [ "$(left)" -gt 70 ]; then
  step model-bf16-no-cuda-graphs 60 10 env MLX_USE_CUDA_GRAPHS=0 bash "$KIT/run" nucleus-bench "${model[@]}" --only dit
fi
# And the tensor layer's rates on the DiT's shapes (GFLOP/s against the chip's ~790 TFLOP/s bf16).
if [ "$(left)" -gt 45 ]; then
  step ops-bf16 35 10 "${bench[@]}" ops --dtype bfloat16 --seconds 0.3
fi

summary="$(bash "$KIT/run" --unpack)/tools/summarize.py"
if [ -n "$python" ] && [ -f "$summary" ]; then
  "$python" "$summary" "$results" | tee "$out/summary.txt"
fi
[ -d "$KIT/ptx-cache" ] && tar -cJf "$out/ptx-cache.tar.xz" -C "$KIT" ptx-cache 2>>"$log"
echo "total $(( $(date +%s) - started ))s; results in $out" >&2
