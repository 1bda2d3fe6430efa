#!/usr/bin/env bash
# `npm test`: the Swift tests (where the toolchain is) and the TypeScript tests (real engine, real sockets).
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
[ -f "$DEPS_DIR/engine.json" ] || fail "no engine build: run npm run setup first"

status=0
step "Swift tests (swift test)"
quiet_progress() { grep -v -E "^\[[0-9]+/[0-9]+\] |^Test Case .* (started|passed)" || true; }
bash scripts/toolchain-run.sh swift test 2>&1 | quiet_progress || status=1

step "TypeScript tests (node --test)"
"$REPO_ROOT/node_modules/.bin/tsc" -p tsconfig.json && node --test --test-concurrency=1 dist/test/*.test.js || status=1

[ $status -eq 0 ] && printf '\033[1mAll tests passed.\033[0m\n' || printf '\033[31mSome tests failed.\033[0m\n'
exit $status
