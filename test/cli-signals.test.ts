// Signals to a running `generate`: a second Ctrl-C stops at once, SIGTERM stops like the first Ctrl-C (after the
// current step); either way nothing is written and no engine is left.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { longRun } from "./helpers/cli.js";
import { enginePids, processState, waitFor, waitForExit } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

describe("signals during generate", () => {
  let fixture: PipelineCase;
  let output: string;
  before(() => {
    fixture = pipelineCase();
    output = mkdtempSync(join(tmpdir(), "nucleus-signals-"));
  });
  after(() => {
    rmSync(fixture.directory, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });
  const args = (target: string) => ["--model", tinyModel, "--prompt-embeds", fixture.promptFile, "--cfg", "1", "--width", "32", "--height", "32", "-o", target];

  test("a second Ctrl-C stops at once: exit 130 without waiting for the step, nothing written, the engine goes too", async () => {
    const target = join(output, "twice.png");
    const run = await longRun(args(target));
    // The engine is held in its step (stopped), so the first Ctrl-C cannot finish before the second arrives.
    process.kill(run.engine, "SIGSTOP");
    try {
      await waitFor(() => processState(run.engine) === "T", `engine ${run.engine} to stop`);
      run.child.kill("SIGINT");
      await waitFor(() => /cancelling after this step \(Ctrl-C again to stop now\)/.test(run.stderr()), "the first Ctrl-C's message");
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr());
      // Neither the end of the step nor the 3 s check of a silent engine was waited for.
      assert.doesNotMatch(run.stderr(), /cancelled after \d+ step|the engine was not answering/);
      assert.equal(existsSync(target), false);
    } finally {
      try {
        process.kill(run.engine, "SIGCONT");
      } catch {
        // already gone
      }
    }
    assert.ok(await waitForExit(run.engine, 15_000), "the engine outlived the run");
  });

  test("SIGTERM stops after the current step like Ctrl-C: exit 130, nothing written, no engine left", async () => {
    const target = join(output, "terminated.png");
    const run = await longRun(args(target));
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /cancelled after \d+ step/);
    assert.equal(existsSync(target), false);
    assert.deepEqual(enginePids(), [], "the engine outlived the run");
  });
});
