// The committed code generated from proto/ must match what scripts/generate-proto.sh makes now.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";

import { execa } from "execa";

import { repoRoot } from "./helpers/engine.js";

const scratch = mkdtempSync(join(repoRoot, ".deps", "generated-check-"));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// The protoc version line differs between machines (Debian, Homebrew) without changing the code.
const normalise = (text: string) => text.replace(/^\/\/ {3}protoc {14,}v.*$/m, "");

function compare(committedDir: string, freshDir: string, only?: (path: string) => boolean): void {
  const fresh = filesUnder(freshDir).filter((path) => !only || only(path));
  assert.ok(fresh.length > 0, `generation produced nothing in ${freshDir}`);
  for (const path of fresh) {
    const committed = join(committedDir, relative(freshDir, path));
    assert.ok(existsSync(committed), `${committed} is missing: run npm run generate and commit`);
    assert.equal(
      normalise(readFileSync(committed, "utf8")),
      normalise(readFileSync(path, "utf8")),
      `${relative(repoRoot, committed)} is stale: run npm run generate and commit the result`,
    );
  }
}

describe("generated code is up to date with proto/", () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  // `npm run setup` installs protoc and the toolchain on every system it supports: without them this fails, it does
  // not skip (a skipped check would let stale generated code through unnoticed).
  test("TypeScript (ts-proto)", async () => {
    const protoc = await execa("protoc", ["--version"], { reject: false });
    assert.equal(protoc.failed, false, `protoc does not run (${protoc.shortMessage}): run npm run setup (it installs protobuf-compiler)`);
    await execa("bash", [join(repoRoot, "scripts", "generate-proto.sh"), "--ts-only", "--out", scratch]);
    compare(join(repoRoot, "orchestrator", "src", "generated"), join(scratch, "orchestrator", "src", "generated"));
  });

  test("C (protobuf-c)", async () => {
    assert.ok(existsSync(join(repoRoot, ".deps", "toolchain-mode")), "no toolchain recorded in .deps/toolchain-mode: run npm run setup");
    await execa("bash", [join(repoRoot, "scripts", "generate-proto.sh"), "--c-only", "--out", scratch]);
    const generatedOnly = (path: string) => /\.pb-c\.[ch]$/.test(path);
    compare(
      join(repoRoot, "swift-engine", "Sources", "CEngineProto"),
      join(scratch, "swift-engine", "Sources", "CEngineProto"),
      generatedOnly,
    );
  });
});
