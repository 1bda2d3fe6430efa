#!/usr/bin/env bash
# The Python environment for tests that use Python (the grpcio client), in the cache, linked as .deps/python.
source "$(dirname "$0")/lib/common.sh"

step "Python test environment (grpcio)"
ensure_venv venv "$REPO_ROOT/test/python/requirements.txt" python
