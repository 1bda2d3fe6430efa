// The package as a consumer sees it: the README's library example compiles in a fresh project with strict settings,
// NodeNext resolution and without skipLibCheck, so every declaration file we ship (and every one it pulls in)
// must type-check.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { execa } from "execa";

import { repoRoot } from "./helpers/engine.js";

/** The first TypeScript block after `heading` in README.md. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match, `no TypeScript example after ${heading}`);
  return match[1]!;
}

test("the README's library example type-checks in a fresh consumer project without skipLibCheck", async () => {
  const project = mkdtempSync(join(tmpdir(), "nucleus-consumer-"));
  try {
    mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
    symlinkSync(repoRoot, join(project, "node_modules", "nucleus-image"));
    symlinkSync(join(repoRoot, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      // A Node project's settings (no DOM library, which would only make the check slower).
      compilerOptions: {
        target: "ES2022", lib: ["ES2023"], module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"], skipLibCheck: false,
      },
      include: ["*.ts"],
    }));
    writeFileSync(join(project, "library.ts"), readmeExample("### As a library"));
    writeFileSync(join(project, "engine.ts"), readmeExample("## As a TypeScript library"));
    const result = await execa(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", project], { reject: false });
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});
