#!/usr/bin/env bash
# The reference environment (PyTorch CPU, diffusers, transformers) that tools/reference/ and bench/ use, in the
# cache, linked as .deps/reference-python. Not needed for npm test: the fixtures it makes are committed.
source "$(dirname "$0")/lib/common.sh"

step "Python reference environment (torch, diffusers, transformers)"
ensure_venv reference-venv "$REPO_ROOT/tools/reference/requirements.txt" reference-python
