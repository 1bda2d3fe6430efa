#!/usr/bin/env bash
# The reference environment (PyTorch CPU, diffusers, transformers) that tools/reference/ and bench/ use, in the
# cache, linked as .deps/reference-python. Not needed for npm test: the fixtures it makes are committed.
source "$(dirname "$0")/lib/common.sh"

requirements="$REPO_ROOT/tools/reference/requirements.txt"
python_version=$(python3 -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')
venv="$NUCLEUS_CACHE_DIR/python/reference-venv-$python_version"
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)

step "Python reference environment (torch, diffusers, transformers)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  info "present: $venv"
else
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  info "pip install -r tools/reference/requirements.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --cache-dir "$NUCLEUS_CACHE_DIR/pip" \
    -r "$requirements" 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
  echo "$wanted" >"$stamp"
fi
mkdir -p "$DEPS_DIR"
ln -sfn "$venv" "$DEPS_DIR/reference-python"
