#!/usr/bin/env bash
# `npm run setup`: everything a fresh clone needs, idempotent and quick when nothing changed.
#   npm dependencies (lockfile) -> MLX C++ SDK -> Swift toolchain + gRPC/protobuf-c -> Python test env
#   -> nginx (load-balancer test) -> TypeScript build -> engine release build
# Big things are cached in $NUCLEUS_CACHE_DIR (default ~/.cache/nucleus-image).
source "$(dirname "$0")/lib/common.sh"
started=$(date +%s)
cd "$REPO_ROOT"

step "npm dependencies (package-lock.json)"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/.nucleus-lock.sha256 ] && [ "$(cat node_modules/.nucleus-lock.sha256)" = "$lock_hash" ]; then
  info "up to date"
else
  npm ci --no-audit --no-fund --cache "$NUCLEUS_CACHE_DIR/npm" --loglevel=error
  echo "$lock_hash" >node_modules/.nucleus-lock.sha256
fi

bash scripts/install-mlx-sdk.sh
bash scripts/install-toolchain.sh
bash scripts/install-cpu-blas.sh
bash scripts/install-cpu-mkl.sh
bash scripts/install-python-env.sh
bash scripts/install-nginx.sh

step "TypeScript build"
node_modules/.bin/tsc -p tsconfig.json

bash scripts/build-engine.sh

printf '\033[1mSetup complete in %ss.\033[0m Cache: %s\n' "$(($(date +%s) - started))" "$NUCLEUS_CACHE_DIR"
printf 'Next: npm test, then npx nucleus-image doctor\n'
