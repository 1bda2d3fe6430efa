#!/usr/bin/env bash
# `npm run kit -- --backend cuda|cpu [--cuda-arch 90] --out DIR`: a self-contained folder that runs nucleus-engine
# and nucleus-bench on a Linux x86_64 machine with nothing of ours installed (glibc >= 2.35 is what MLX's wheels
# ask; the kit carries its own loader and C library, so the host's glibc only has to exist for NVIDIA's driver).
#
#   DIR/run nucleus-bench parity | model ... ;  DIR/run nucleus-engine ... ;  DIR/run --check
#   DIR/run-gpu-checks.sh      the GPU machine's one prepared run (see README, "GPU kit")
#
# Contents (packed with xz into DIR/payload.tar.xz, unpacked on first use): both binaries (stripped), libmlx from the
# pinned backend wheel (CUDA: only the target architecture's machine code, stripped), MLX's headers that its CUDA
# backend compiles against at run time, the wheel's bundled BLAS/LAPACK, every native library the binaries load
# (gRPC, protobuf-c, abseil, OpenSSL, libstdc++, glibc with its loader), the parity fixtures, the diffusers
# reference script with diffusers from its PyPI wheel, and the results summarizer. A CUDA kit must stay within
# 48 MiB (the GPU machine receives 64 MiB including the working tree).
#
# Options: --xz-level 0-9[e] (default 9e; lower builds faster, packs worse), --fatbin-mode compact|zero (how the other
# architectures' machine code is removed, scripts/kit/prune-fatbin.py; not yet tried on a GPU, so zero is the
# alternative if compact fails there), --force (replace a DIR that is not a kit).
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

backend=""
arch=90
out=""
level=9e
fatbin_mode=compact
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend="${2:-}"; shift 2 ;;
    --cuda-arch) arch="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --xz-level) level="${2:-}"; shift 2 ;;
    --fatbin-mode) fatbin_mode="${2:-}"; shift 2 ;;
    --force) force=1; shift ;;
    *) fail "unknown option '$1' (usage: scripts/device-kit.sh --backend cuda|cpu [--cuda-arch 90] --out DIR)" ;;
  esac
done
case "$backend" in cpu | cuda) ;; *) fail "--backend must be cuda or cpu" ;; esac
[ -n "$out" ] || fail "--out DIR is required (e.g. --out .kit/$backend; .kit/ is ignored by git)"
[[ "$arch" =~ ^[0-9]+$ ]] || fail "--cuda-arch takes an SM number such as 90 (H100/H200), 80 (A100), 120 (RTX 50)"
[[ "$level" =~ ^[0-9]e?$ ]] || fail "--xz-level takes 0-9, optionally with e (e.g. 9e)"
case "$fatbin_mode" in compact | zero) ;; *) fail "--fatbin-mode must be compact or zero" ;; esac
[ "$(uname -m)" = x86_64 ] || fail "kits are x86_64 Linux; this machine is $(uname -m)"
[ "$(os_name)" = Linux ] || fail "kits are built on Linux"
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/kit.json" ] && [ $force -eq 0 ]; then
  fail "$out exists and is not a kit: choose another --out, or pass --force to replace it"
fi
kit_limit=$((48 * 1024 * 1024))

# --- the MLX SDK and the engine build for this backend -----------------------------------------------------------
if [ "$backend" = cpu ]; then
  [ -e "$DEPS_DIR/mlx" ] && readlink -f "$DEPS_DIR/mlx" | grep -q -- "-cpu$" ||
    fail ".deps/mlx is not the CPU SDK: run npm run setup (on a machine without NVIDIA GPU or with NUCLEUS_BACKEND=cpu)"
  link=mlx
  scratch=.build
  link_flags=()
else
  NUCLEUS_BACKEND=cuda NUCLEUS_MLX_LINK=mlx-cuda bash scripts/install-mlx-sdk.sh
  link=mlx-cuda
  scratch=.build-cuda
  # libcuda.so.1 is the NVIDIA driver's: it exists only where a GPU is. Every other library libmlx needs (the NVIDIA
  # wheels installed beside it) is resolved at link time as usual.
  link_flags=(-Xlinker --allow-shlib-undefined)
fi
sdk=$(readlink -f "$DEPS_DIR/$link")
[ "$(toolchain_mode)" != unknown ] || fail "no toolchain recorded: run npm run setup"

step "Release build of nucleus-engine and nucleus-bench against the $backend MLX ($scratch)"
build() {
  bash scripts/toolchain-run.sh env NUCLEUS_MLX_LINK="$link" swift build -c release --static-swift-stdlib \
    --scratch-path "$scratch" "$@"
}
for product in nucleus-engine nucleus-bench; do
  build --product "$product" "${link_flags[@]}" 2>&1 |
    { grep -v -E "^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)|libFoundationEssentials.a|createTemporaryFile|use of .mktemp. is dangerous|garbage collection" || true; }
done
bin_dir=$(build --show-bin-path | tail -1)
for product in nucleus-engine nucleus-bench; do
  [ -x "$bin_dir/$product" ] || fail "the build did not produce $bin_dir/$product"
  readelf -d "$bin_dir/$product" | grep -q "$DEPS_DIR/$link/mlx/lib" ||
    fail "$bin_dir/$product is not linked against .deps/$link: the build picked another MLX SDK"
done

# --- stage --------------------------------------------------------------------------------------------------------
mkdir -p "$NUCLEUS_CACHE_DIR/kit-work"
work=$(mktemp -d "$NUCLEUS_CACHE_DIR/kit-work/$backend.XXXXXX")
partial="$out.partial.$$"
trap 'rm -rf "$work" "$partial"' EXIT
stage="$work/payload"
mkdir -p "$stage/bin" "$stage/lib" "$stage/mlx/lib" "$stage/reference" "$stage/tools"

step "Binaries and libraries"
for product in nucleus-engine nucleus-bench; do
  cp "$bin_dir/$product" "$stage/bin/"
  strip --strip-unneeded "$stage/bin/$product"
done

if [ "$(toolchain_mode)" = root ]; then
  system_lib="$TOOLCHAIN_ROOT/usr/lib/x86_64-linux-gnu"
  library_path="$system_lib:$TOOLCHAIN_ROOT/lib/x86_64-linux-gnu"
else
  system_lib=/usr/lib/x86_64-linux-gnu
  library_path="$system_lib:/lib/x86_64-linux-gnu"
fi
loader="$system_lib/ld-linux-x86-64.so.2"
[ -e "$loader" ] || fail "no loader at $loader"
if [ "$backend" = cuda ]; then
  # The loader refuses to list a program whose libraries are not all there; an empty stand-in for the driver's
  # libcuda.so.1 (never copied into the kit) lets it list everything else.
  driver_stub="$work/driver-stub"
  mkdir -p "$driver_stub"
  printf 'void nucleus_kit_driver_stub(void) {}\n' | gcc -shared -x c -o "$driver_stub/libcuda.so.1" - ||
    fail "gcc is needed to make the driver stand-in for listing the CUDA kit's libraries"
  library_path="$library_path:$driver_stub"
fi

# The whole C library (its pieces must all come from one glibc: NVIDIA's libraries and the driver load libdl,
# libpthread and librt, which must not come from the host's older glibc) and everything the binaries load.
for piece in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 \
  libutil.so.1 libanl.so.1 libmvec.so.1; do
  [ -e "$system_lib/$piece" ] && cp -L "$system_lib/$piece" "$stage/lib/"
done
closure() {
  "$loader" --library-path "$library_path:$sdk/mlx/lib" --list "$1" | sed -n 's/^[[:space:]]*\([^ ]*\) => \(\/[^ ]*\) (0x.*$/\1 \2/p'
}
for product in nucleus-engine nucleus-bench; do
  closure "$bin_dir/$product"
done | sort -u | while read -r soname path; do
  case "$path" in
    "$sdk"/*) ;;                       # libmlx, its bundled BLAS/LAPACK and (CUDA) NVIDIA's wheels: handled below
    "$work"/*) ;;                      # the driver stand-in
    *) cp -L "$path" "$stage/lib/$(basename "$soname")" ;;
  esac
done
missing=$(for product in nucleus-engine nucleus-bench; do
  "$loader" --library-path "$library_path:$sdk/mlx/lib" --list "$bin_dir/$product" | grep "not found" || true; done |
  grep -v "libcuda.so.1" || true)
[ -z "$missing" ] || fail "libraries not found for the binaries: $missing"

step "MLX ($backend) from $(basename "$sdk")"
cp -L "$sdk/mlx/lib/libmlx.so" "$stage/mlx/lib/"
if [ "$backend" = cuda ]; then
  python3 scripts/kit/prune-fatbin.py "$stage/mlx/lib/libmlx.so" --arch "$arch" --mode "$fatbin_mode" | sed 's/^/    /'
  cp -r "$sdk/mlx/include" "$stage/mlx/"
  cp -r "$sdk/mlx_cuda_13.libs" "$stage/"
  # Fallback headers for NVRTC when the machine has neither the CUDA runtime wheel's headers nor a toolkit.
  mkdir -p "$stage/cuda"
  cp -r "$sdk/nvidia/cu13/include" "$stage/cuda/"
else
  # The libraries only: oneMKL's folder (about 440 MB) stays out, as the kit is for GPUs and its CPU engine works
  # with OpenBLAS alone; the wheel's reference BLAS too.
  mkdir -p "$stage/mlx_cpu.libs"
  find "$sdk/mlx_cpu.libs" -maxdepth 1 -type f ! -name '*.reference' -exec cp {} "$stage/mlx_cpu.libs/" \;
fi
strip --strip-unneeded "$stage/mlx/lib/libmlx.so"

step "Parity fixtures, diffusers reference, summarizer"
fixtures="$REPO_ROOT/test/fixtures"
copy_fixture() { mkdir -p "$stage/fixtures/$(dirname "$1")" && cp -r "$fixtures/$1" "$stage/fixtures/$1"; }
for item in dit/a-bf16.safetensors dit/a-fp32.safetensors dit/a-fp32-batch-masked.safetensors \
  dit/a-fp32-two-timesteps.safetensors dit/b-fp32-odd.safetensors dit/c-fp32-mha.safetensors dit/tiny-a dit/tiny-a-bf16 \
  dit/tiny-b dit/tiny-c pipeline/vae-decode.safetensors pipeline/tiny/vae text/encoder-cases.safetensors \
  text/tiny-encoder; do
  copy_fixture "$item"
done
wheels="$NUCLEUS_CACHE_DIR/wheels-kit"
diffusers_wheel="$wheels/diffusers-0.42.1-py3-none-any.whl"
if [ ! -f "$diffusers_wheel" ]; then
  python3 -m pip download --quiet --disable-pip-version-check --cache-dir "$NUCLEUS_CACHE_DIR/pip" --only-binary=:all: \
    --no-deps --dest "$wheels" diffusers==0.42.1 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
fi
[ -f "$diffusers_wheel" ] || fail "could not download diffusers 0.42.1 from PyPI"
# The wheel's contents (pure Python) go on PYTHONPATH as they are; xz packs them tighter than the wheel's zip.
python3 -m zipfile -e "$diffusers_wheel" "$stage/reference/site"
cp bench/reference/diffusers_device.py "$stage/reference/"
cp scripts/kit/summarize.py "$stage/tools/"

step "Packing (xz -$level)"
(cd "$stage" && find . \( -type f -o -type l \) | sort | tar --owner=0 --group=0 --mtime=@0 -cf - -T -) | xz "-$level" -T1 >"$work/payload.tar.xz"
rm -rf "$partial"
mkdir -p "$partial"
mv "$work/payload.tar.xz" "$partial/"
cp scripts/kit/run "$partial/run"
cp scripts/device/run-gpu-checks.sh "$partial/run-gpu-checks.sh"
chmod +x "$partial/run" "$partial/run-gpu-checks.sh"
payload_sha=$(sha256sum "$partial/payload.tar.xz" | cut -d' ' -f1)
unpacked_bytes=$(du -sb "$stage" | cut -f1)
cat >"$partial/kit.json" <<JSON
{
  "kit": "nucleus-image device kit",
  "backend": "$backend",
  "cuda_arch": "$([ "$backend" = cuda ] && echo "sm_$arch")",
  "fatbin_mode": "$([ "$backend" = cuda ] && echo "$fatbin_mode")",
  "mlx_version": "$MLX_VERSION",
  "git_commit": "$(git rev-parse HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo "-dirty")",
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "payload_sha256": "$payload_sha",
  "unpacked_bytes": $unpacked_bytes
}
JSON
cat >"$partial/README.txt" <<TEXT
nucleus-image device kit ($backend$([ "$backend" = cuda ] && echo ", sm_$arch"), MLX $MLX_VERSION). Needs only bash, and tar + xz or python3.

  bash run --check                        where every library comes from (CUDA: NVIDIA's from a Python environment)
  bash run nucleus-bench parity           the tiny-model fixtures against diffusers / transformers outputs
  bash run nucleus-bench model --preset full --sizes 512,1024
  bash run nucleus-engine --port 50051    the gRPC engine
  bash run-gpu-checks.sh                  the GPU machine's prepared run (results under \$OUT)

A CUDA kit finds NVIDIA's CUDA 13 libraries in a Python environment (PyTorch's): --nvidia-from /path/to/python.
Made by scripts/device-kit.sh; see the project README, "GPU kit".
TEXT

size=$(du -sb "$partial" | cut -f1)
if [ "$backend" = cuda ] && [ "$size" -gt "$kit_limit" ]; then
  fail "the CUDA kit is $((size / 1024 / 1024)) MiB, over the 48 MiB limit"
fi
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$partial" "$out"
trap 'rm -rf "$work"' EXIT

step "Checking the kit"
if [ "$backend" = cuda ]; then
  # No driver here: every library but libcuda.so.1 must resolve (NVIDIA's from the SDK's wheels, as from a venv).
  check=$(LD_LIBRARY_PATH="$driver_stub" bash "$out/run" --nvidia-from "$sdk" --check 2>&1 || true)
  echo "$check" | grep '^{' | grep -v '"kit_check"' | grep -v "libcuda.so.1" | grep -q . &&
    { echo "$check"; fail "the kit's libraries do not resolve"; }
else
  bash "$out/run" --check >/dev/null || { bash "$out/run" --check; fail "the kit's libraries do not resolve inside the kit"; }
fi
info "libraries resolve inside the kit$([ "$backend" = cuda ] && echo " (NVIDIA's from a Python environment, libcuda from the driver)")"
info "$out: $(du -sh "$out/payload.tar.xz" | cut -f1) packed ($((size / 1024 / 1024)) MiB on disk with the launcher), $((unpacked_bytes / 1024 / 1024)) MiB unpacked"
rm -rf "$out/unpacked"
