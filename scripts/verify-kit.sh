#!/usr/bin/env bash
# `npm run kit:verify -- DIR [--device-script]`: checks a CPU kit the way a bare machine would run it: the kit is
# copied into an empty folder and every command runs under `env -i` (no PATH, no variables of ours):
# library check, engine start, parity, and a quick mid-size `model`. --device-script also runs the GPU machine's
# prepared script on the CPU (mid preset, 256²; about 7 minutes on our 2-core machines).
source "$(dirname "$0")/lib/common.sh"

kit=""
device_script=0
for argument in "$@"; do
  case "$argument" in
    --device-script) device_script=1 ;;
    -*) fail "unknown option '$argument'" ;;
    *) kit="$argument" ;;
  esac
done
[ -n "$kit" ] && [ -f "$kit/kit.json" ] || fail "usage: scripts/verify-kit.sh KIT_DIR [--device-script] (KIT_DIR from npm run kit)"
grep -q '"backend": "cpu"' "$kit/kit.json" || fail "$kit is not a CPU kit: a CUDA kit runs on the GPU machine (README, GPU kit)"

place=$(mktemp -d "${TMPDIR:-/tmp}/nucleus-kit-verify.XXXXXX")
trap 'rm -rf "$place"' EXIT
mkdir "$place/empty" "$place/out"
cp -r "$kit" "$place/kit"
rm -rf "$place/kit/unpacked" "$place/kit/results"
cd "$place/empty"
bare() { env -i /bin/bash "$place/kit/run" "$@"; }

step "Library check (env -i, empty folder)"
bare --check
step "Engine start"
bare nucleus-engine --port 0 --exit-on-stdin-eof </dev/null | grep '"event":"ready"'
step "Parity"
bare nucleus-bench parity | tail -1 | grep '"pass":true' || fail "parity failed"
step "Model, mid preset, 256²"
bare nucleus-bench model --preset mid --sizes 256 --repeats 1 --warmup 0 | grep -E '"event":"(dit_forward|text_encoder|vae_decode|done|error)"'
if [ $device_script -eq 1 ]; then
  step "The GPU machine's script on the CPU (mid preset)"
  python="$(readlink -f "$DEPS_DIR/reference-python" 2>/dev/null)/bin/python"
  [ -x "$python" ] || fail "the reference Python environment is missing: npm run setup:reference"
  env -i OUT="$place/out" /bin/bash "$place/kit/run-gpu-checks.sh" --preset mid --sizes 256 --repeats 1 --warmup 1 \
    --budget 1500 --python "$python" >"$place/out/stdout.txt" 2>&1 || true
  cat "$place/out/summary.txt"
fi
info "the kit runs from an empty folder with an empty environment"
