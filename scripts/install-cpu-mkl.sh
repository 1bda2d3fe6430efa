#!/usr/bin/env bash
# Intel oneMKL's sgemm for the engine's CPU matmul and conv2d kernels on x86-64 Linux: about 5–20 % faster than
# OpenBLAS on the DiT's shapes single-threaded, 7–15 % on a whole mid-size forward (PyTorch's CPU wheels use MKL
# too). Unpacks only the runtime library, its sequential layer and its CPU-specific kernels from the pinned `mkl`
# wheel into mlx_cpu.libs/mkl/, where the engine looks for it beside the BLAS library (kernel_blas.cpp). Optional:
# when it cannot be downloaded the engine keeps using OpenBLAS. NUCLEUS_CPU_BLAS=openblas or =reference leaves it
# out (and removes an earlier copy).
source "$(dirname "$0")/lib/common.sh"

MKL_VERSION="2026.2.0"
MKL_LIBRARIES=(libmkl_rt.so.3 libmkl_core.so.3 libmkl_intel_lp64.so.3 libmkl_sequential.so.3
  libmkl_def.so.3 libmkl_mc3.so.3 libmkl_avx2.so.3 libmkl_avx512.so.3 libmkl_avx10.so.3)

[ "$(os_name)" = "Linux" ] && [ "$(uname -m)" = "x86_64" ] && [ "$(mlx_backend)" = "cpu" ] || exit 0
target="$(mlx_prefix)/mlx_cpu.libs/mkl"
stamp="$target/.complete-$MKL_VERSION"

step "oneMKL $MKL_VERSION sgemm for the CPU kernels"
case "${NUCLEUS_CPU_BLAS:-}" in
  "") ;;
  openblas | reference)
    rm -rf "$target"
    info "left out (NUCLEUS_CPU_BLAS=$NUCLEUS_CPU_BLAS)"
    exit 0 ;;
  *) fail "unknown NUCLEUS_CPU_BLAS '$NUCLEUS_CPU_BLAS' (use openblas or reference; unset for oneMKL with OpenBLAS)" ;;
esac
if [ -f "$stamp" ]; then
  info "present: $target"
  exit 0
fi

work=$(mktemp -d "$(mlx_prefix)/mlx_cpu.libs/.mkl-download.XXXXXX")
trap 'rm -rf "$work"' EXIT
info "pip download mkl==$MKL_VERSION (about 220 MB)"
if ! python3 -m pip download --quiet --disable-pip-version-check --no-cache-dir --only-binary=:all: --no-deps \
  --dest "$work/wheel" "mkl==$MKL_VERSION" 2>"$work/pip.log"; then
  printf '\033[33m    oneMKL could not be downloaded (%s): the engine uses OpenBLAS, about 10 %% slower on the CPU; run npm run setup again to retry\033[0m\n' \
    "$(grep -m1 -i error "$work/pip.log" || tail -1 "$work/pip.log")"
  exit 0
fi
python3 - "$work/wheel"/mkl-*.whl "$work/lib" "${MKL_LIBRARIES[@]}" <<'PY'
import os, shutil, sys, zipfile
wheel, out, wanted = sys.argv[1], sys.argv[2], set(sys.argv[3:])
os.makedirs(out)
with zipfile.ZipFile(wheel) as archive:
    members = {os.path.basename(name): name for name in archive.namelist()}
    missing = sorted(wanted - members.keys())
    if missing:
        sys.exit(f"the mkl wheel lacks {', '.join(missing)}: its layout changed")
    for name in sorted(wanted) + ["LICENSE.txt"]:
        with archive.open(members[name]) as source, open(os.path.join(out, name), "wb") as target:
            shutil.copyfileobj(source, target)
PY
chmod 0755 "$work"/lib/*.so.3
touch "$work/lib/.complete-$MKL_VERSION"
rm -rf "$target"
mv "$work/lib" "$target"
info "installed: $target ($(du -sh "$target" | cut -f1); Intel Simplified Software License, LICENSE.txt beside it)"
