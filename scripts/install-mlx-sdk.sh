#!/usr/bin/env bash
# Installs the MLX C++ SDK (headers, libmlx, CMake package) from MLX's official backend wheel, pinned to one
# version, unpacked with the wheel's own layout into the cache, and links it as .deps/mlx
# (NUCLEUS_MLX_LINK names another link, e.g. the CUDA SDK beside the CPU one for scripts/device-kit.sh).
source "$(dirname "$0")/lib/common.sh"

backend=$(mlx_backend)
prefix=$(mlx_prefix)
case "$backend" in
  cpu) packages=("mlx-cpu==$MLX_VERSION"); deps=--no-deps ;;
  metal) packages=("mlx-metal==$MLX_VERSION"); deps=--no-deps ;;
  # The CUDA wheel needs the NVIDIA runtime wheels beside it (libmlx finds them through its RUNPATH).
  cuda) packages=("mlx-cuda-13==$MLX_VERSION"); deps= ;;
  *) fail "unknown NUCLEUS_BACKEND '$backend' (use cpu, cuda or metal)" ;;
esac

step "MLX $MLX_VERSION C++ SDK ($backend)"
if [ -f "$prefix/.complete" ]; then
  info "present: $prefix"
else
  mkdir -p "$NUCLEUS_CACHE_DIR/mlx"
  work=$(mktemp -d "$NUCLEUS_CACHE_DIR/mlx/.download.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  info "pip download ${packages[*]}"
  python3 -m pip download --quiet --disable-pip-version-check --cache-dir "$NUCLEUS_CACHE_DIR/pip" \
    --only-binary=:all: $deps --dest "$work/wheels" "${packages[@]}" 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
  mkdir -p "$work/prefix"
  for wheel in "$work"/wheels/*.whl; do
    info "unpack $(basename "$wheel")"
    python3 -m zipfile -e "$wheel" "$work/prefix"
  done
  lib=$(ls "$work"/prefix/mlx/lib/libmlx.* 2>/dev/null | head -1)
  [ -n "$lib" ] || fail "the $backend wheel has no mlx/lib/libmlx: the wheel layout changed"
  # zipfile drops the executable bits; shared libraries must stay readable and loadable.
  chmod -R u+rwX,go+rX "$work/prefix"
  rm -rf "$prefix"
  mv "$work/prefix" "$prefix"
  touch "$prefix/.complete"
  info "installed: $prefix ($(du -sh "$prefix" | cut -f1))"
fi
mkdir -p "$DEPS_DIR"
ln -sfn "$prefix" "$DEPS_DIR/${NUCLEUS_MLX_LINK:-mlx}"
