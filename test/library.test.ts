// The library's contract: the CLI's defaults from the shared table, one error class for invalid requests, a clear
// error after close(), and restart() after the engine died.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { EngineDiedError } from "../orchestrator/src/engine/errors.js";
import { ModelClosedError, NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { GenerationCancelledError } from "../orchestrator/src/pipeline/generate.js";
import { readPromptEmbedding, type PromptEmbedding } from "../orchestrator/src/pipeline/inputs.js";
import { GenerateOptionsError, resolveGenerateRequest } from "../orchestrator/src/request/generate-request.js";
import { GENERATION_LIMITS } from "../orchestrator/src/request/limits.js";
import { enginePids, waitForExit } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

describe("the library's contract", () => {
  let fixture: PipelineCase;
  let model: NucleusImage;
  let prompt: PromptEmbedding;
  let negative: PromptEmbedding;
  before(async () => {
    fixture = pipelineCase();
    model = await NucleusImage.load(tinyModel);
    prompt = readPromptEmbedding(fixture.promptFile, model.folder.textWidth);
    negative = readPromptEmbedding(fixture.negativeFile, model.folder.textWidth);
  });
  after(async () => {
    await model.close();
    rmSync(fixture.directory, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("the defaults are the CLI's (shared table): steps 50, cfg 4.0, 1024×1024, a random seed reported back", async () => {
    assert.deepEqual(
      [GENERATION_LIMITS.steps.default, GENERATION_LIMITS.cfg.default, GENERATION_LIMITS.width.default, GENERATION_LIMITS.height.default],
      [50, 4.0, 1024, 1024],
    );
    const resolved = resolveGenerateRequest({ prompt });
    assert.deepEqual([resolved.steps, resolved.cfg, resolved.width, resolved.height], [50, 4, 1024, 1024]);
    assert.notEqual(resolveGenerateRequest({ prompt }).seed, resolved.seed);

    // Through generate: 50 steps by default (stopped after the first); cfg 4 asks for a negative; 1024² latents.
    let total = 0;
    const abort = new AbortController();
    await assert.rejects(
      model.generate({ prompt, negative, width: 32, height: 32 }, { signal: abort.signal, onProgress: (p) => ((total = p.total), abort.abort()) }),
      GenerationCancelledError,
    );
    assert.equal(total, 50);
    await assert.rejects(model.generate({ prompt, width: 32, height: 32, steps: 1 }), /CFG \(cfg > 1\) needs negative prompt embeddings/);
    await assert.rejects(model.generate({ prompt, negative, latents: new Float32Array(10) }), /1024×1024 needs 4096×16/);

    const result = await model.generate({ prompt, cfg: 1, steps: 1, width: 32, height: 32 });
    assert.ok(Number.isInteger(result.seed) && result.seed! >= 0 && result.seed! < 2 ** 32);
    assert.equal(result.metadata.seed, result.seed);
    assert.ok(result.timings.loadMs > 0 && result.timings.perStepMs > 0 && result.timings.decodeMs > 0);
    assert.ok(result.memory.peakRssBytes > 0 && result.memory.mlxPeakBytes > 0);
    const again = await model.generate({ prompt, cfg: 1, steps: 1, width: 32, height: 32, seed: result.seed });
    assert.deepEqual(again.image.data, result.image.data);
    assert.equal(again.timings.loadMs, 0); // the load was reported with the first result
  });

  test("a missing or empty prompt and every invalid option throw GenerateOptionsError", async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{}, /prompt is missing/],
      [{ prompt: "" }, /prompt is empty/],
      [{ prompt: "   " }, /prompt is empty/],
      [{ prompt: 42 }, /prompt must be text or prompt embeddings/],
      [{ prompt: "x".repeat(40_000) }, /at most 32768 are accepted/],
      [{ prompt, steps: 0 }, /steps must be a whole number from 1 to 1000, not 0/],
      [{ prompt, steps: 2.5 }, /steps must be a whole number/],
      [{ prompt, cfg: -1 }, /cfg must be a number from 0 to 100/],
      [{ prompt, cfg: Number.NaN }, /cfg must be/],
      [{ prompt, width: 100 }, /width must be a multiple of 16 from 16 to 4096, not 100/],
      [{ prompt, height: 8192 }, /height must be a multiple of 16/],
      [{ prompt, seed: -1 }, /seed must be a whole number from 0 to 4294967295/],
      [{ prompt, seed: 2 ** 32 }, /seed must be/],
      [{ prompt, negative: { wrong: true } }, /negative must be text or prompt embeddings/],
      [{ prompt, systemPrompt: 5 }, /systemPrompt must be text, null/],
      [{ prompt, latents: [1, 2] }, /latents must be a Float32Array/],
    ];
    for (const [request, message] of bad) {
      await assert.rejects(model.generate(request as never), (error: Error) => {
        assert.ok(error instanceof GenerateOptionsError, `${JSON.stringify(request).slice(0, 80)}: ${error}`);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test("restart() continues after the engine died; close() makes later calls say the model is closed", async () => {
    const other = await NucleusImage.load(tinyModel);
    try {
      const request = { prompt, cfg: 1, steps: 1, width: 32, height: 32, seed: 3 };
      const before = await other.generate(request);
      const [pid] = enginePids().filter((candidate) => candidate !== (model as unknown as { engine: { pid: number } }).engine.pid);
      process.kill(pid!, "SIGKILL");
      await waitForExit(pid!, 5000);
      await assert.rejects(other.generate(request), (error: Error) => {
        assert.ok(error instanceof EngineDiedError, String(error));
        assert.match(error.message, /await model\.restart\(\)/);
        return true;
      });
      await other.restart();
      const after = await other.generate(request);
      assert.deepEqual(after.image.data, before.image.data);
      assert.ok(after.timings.loadMs > 0);
    } finally {
      await other.close();
    }
    await assert.rejects(other.generate({ prompt }), ModelClosedError);
    await assert.rejects(other.encode("x"), /this model is closed \(close\(\) was called\): load it again with NucleusImage\.load/);
    assert.throws(() => other.client, ModelClosedError);
  });
});
