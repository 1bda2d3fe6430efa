#!/usr/bin/env bash
# MLX's Linux CPU wheel bundles the reference (netlib) BLAS, which runs a float32 matmul at a few GFLOP/s.
# libmlx only needs cblas_{s,d,c}gemm from it, so we put OpenBLAS (Debian's libopenblas0-pthread, which exports
# the same unprefixed CBLAS/LAPACK symbols) in its place under the bundled file name; libmlx finds it through its
# RPATH as before. The original is kept beside it. NUCLEUS_CPU_BLAS=reference keeps the bundled BLAS.
source "$(dirname "$0")/lib/common.sh"

[ "$(os_name)" = "Linux" ] && [ "$(mlx_backend)" = "cpu" ] || exit 0
libs="$(mlx_prefix)/mlx_cpu.libs"
bundled=$(ls "$libs"/libblas-*.so* 2>/dev/null | grep -v '\.reference$' | head -1)
[ -n "$bundled" ] || fail "no bundled BLAS in $libs: the mlx-cpu wheel layout changed"
[ -f "$bundled.reference" ] || cp "$bundled" "$bundled.reference"

step "CPU BLAS for MLX"
if [ "${NUCLEUS_CPU_BLAS:-openblas}" = "reference" ]; then
  cp "$bundled.reference" "$bundled"
  info "the wheel's reference BLAS (NUCLEUS_CPU_BLAS=reference)"
  exit 0
fi
if [ "$(toolchain_mode)" = root ]; then
  system_libs="$TOOLCHAIN_ROOT/usr/lib/x86_64-linux-gnu"
else
  system_libs="/usr/lib/$(uname -m)-linux-gnu"
fi
openblas=$(ls "$system_libs"/openblas-pthread/libopenblasp-r*.so 2>/dev/null | head -1)
[ -n "$openblas" ] || fail "OpenBLAS is missing in $system_libs/openblas-pthread (package libopenblas0-pthread): run npm run setup"
if cmp -s "$openblas" "$bundled"; then
  info "OpenBLAS in place ($(basename "$openblas"))"
else
  cp "$openblas" "$bundled"
  info "OpenBLAS $(basename "$openblas") replaces the bundled reference BLAS ($(basename "$bundled").reference kept)"
fi
