#!/usr/bin/env bash
# The Python environment for tests that use Python (the grpcio client), in the cache, linked as .deps/python.
source "$(dirname "$0")/lib/common.sh"

requirements="$REPO_ROOT/test/python/requirements.txt"
python_version=$(python3 -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')
venv="$NUCLEUS_CACHE_DIR/python/venv-$python_version"
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)

step "Python test environment (grpcio)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  info "present: $venv"
else
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  info "pip install -r test/python/requirements.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --cache-dir "$NUCLEUS_CACHE_DIR/pip" \
    -r "$requirements" 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
  echo "$wanted" >"$stamp"
fi
mkdir -p "$DEPS_DIR"
ln -sfn "$venv" "$DEPS_DIR/python"
