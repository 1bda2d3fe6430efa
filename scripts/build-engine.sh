#!/usr/bin/env bash
# Release build of nucleus-engine (static Swift standard library), then records how to launch it in
# .deps/engine.json for the orchestrator. Incremental: quick when nothing changed.
source "$(dirname "$0")/lib/common.sh"

step "Engine release build"
[ -e "$DEPS_DIR/mlx" ] || fail "the MLX SDK is missing: run npm run setup"
static_flag=--static-swift-stdlib
[ "$(os_name)" = "Darwin" ] && static_flag=   # macOS links the system Swift runtime
"$REPO_ROOT/scripts/toolchain-run.sh" swift build -c release $static_flag --product nucleus-engine 2>&1 |
  { grep -v -E "^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)|libFoundationEssentials.a|createTemporaryFile|use of .mktemp. is dangerous" || true; }
bin_dir=$("$REPO_ROOT/scripts/toolchain-run.sh" swift build -c release $static_flag --show-bin-path | tail -1)
binary="$bin_dir/nucleus-engine"
[ -x "$binary" ] || fail "the build did not produce $binary"

if [ "$(toolchain_mode)" = root ]; then
  lib="$TOOLCHAIN_ROOT/usr/lib/x86_64-linux-gnu"
  cat >"$DEPS_DIR/engine.json" <<JSON
{
  "binary": "$binary",
  "loader": "$lib/ld-linux-x86-64.so.2",
  "libraryPath": ["$lib", "$TOOLCHAIN_ROOT/lib/x86_64-linux-gnu"]
}
JSON
else
  printf '{\n  "binary": "%s"\n}\n' "$binary" >"$DEPS_DIR/engine.json"
fi
info "$binary ($(du -h "$binary" | cut -f1))"
