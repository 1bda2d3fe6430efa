#!/usr/bin/env bash
# Regenerates the code made from proto/ and commits nothing by itself:
#   orchestrator/src/generated/   TypeScript (ts-proto, outputServices=grpc-js), run with the host's protoc
#   swift-engine/Sources/CEngineProto/   C (protoc-c), run where the Swift toolchain is
# Usage: generate-proto.sh [--ts-only | --c-only] [--out DIR]   (--out writes into DIR instead of the tree)
source "$(dirname "$0")/lib/common.sh"

languages="ts c"
out_root="$REPO_ROOT"
while [ $# -gt 0 ]; do
  case "$1" in
    --ts-only) languages="ts" ;;
    --c-only) languages="c" ;;
    --out) out_root="$2"; shift ;;
    *) fail "unknown option $1" ;;
  esac
  shift
done

# The engine (C) needs only its own contract; the image service (serve) lives in the orchestrator.
C_PROTOS=(nucleus/engine/v1/engine.proto)
TS_PROTOS=(nucleus/engine/v1/engine.proto nucleus/image/v1/images.proto)

generate_ts() {
  command -v protoc >/dev/null 2>&1 || fail "protoc is missing: run npm run setup (it installs protobuf-compiler)"
  local plugin="$REPO_ROOT/node_modules/.bin/protoc-gen-ts_proto"
  [ -x "$plugin" ] || fail "ts-proto is missing: run npm ci"
  local target="$out_root/orchestrator/src/generated"
  rm -rf "$target"
  mkdir -p "$target"
  protoc --plugin=protoc-gen-ts_proto="$plugin" --ts_proto_out="$target" \
    --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,env=node,useOptionals=messages \
    -I "$REPO_ROOT/proto" "${TS_PROTOS[@]}"
}

generate_c() {
  local target="$out_root/swift-engine/Sources/CEngineProto"
  local work
  work=$(mktemp -d "$REPO_ROOT/.deps/protoc-c.XXXXXX")
  "$REPO_ROOT/scripts/toolchain-run.sh" protoc-c --c_out="$work" -I proto "${C_PROTOS[@]}"
  mkdir -p "$target/include/nucleus/engine/v1"
  cp "$work/nucleus/engine/v1/engine.pb-c.h" "$target/include/nucleus/engine/v1/"
  cp "$work/nucleus/engine/v1/engine.pb-c.c" "$target/"
  rm -rf "$work"
}

mkdir -p "$REPO_ROOT/.deps"
for language in $languages; do
  case "$language" in
    ts) generate_ts ;;
    c) generate_c ;;
  esac
done
