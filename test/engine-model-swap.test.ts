// Swapping models under load (issue 11, defects 3, 4 and 5): Denoise calls racing LoadModel each run entirely on
// one model (bit-identical to that model's own output), calls wait instead of failing while a load is underway, and
// a load that is refused or fails leaves the loaded model and the memory limit exactly as they were.
import assert from "node:assert/strict";
import { rmSync, truncateSync, statSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import type { LoadProgress, Tensor } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { toProtoTensor } from "../orchestrator/src/tensors/convert.js";
import { loadDiTCase, row } from "./helpers/dit-fixtures.js";
import { copyModel, tinyA, tinyABf16 } from "./helpers/hostile.js";
import { writeSparseTransformer } from "./helpers/sparse-release.js";

describe("model swaps", () => {
  let engine: LocalEngine;
  const fixture = loadDiTCase("a-fp32");
  const latents: Tensor = toProtoTensor(row(fixture.latents, 0));
  /** The handle every call below shares: its cached text conditioning meets both models. */
  let handle: number;
  const importText = async () => (await engine.client.importEmbedding(toProtoTensor(row(fixture.text, 0)))).id;
  /** Denoise's prediction bytes for the loaded model. */
  const predict = async (through = handle) =>
    Buffer.from((await engine.client.denoise(latents, fixture.grid, fixture.timesteps[0]!, [through])).predictions[0]!.data);
  const references = new Map<string, Buffer>();

  before(async () => {
    engine = await LocalEngine.start();
    // The two models share a config (the same request is valid for both) but not their weights (float32 and
    // bfloat16): compute each one's output alone first, each through a handle of its own (nothing cached from the
    // other model can be involved).
    for (const model of [tinyA, tinyABf16]) {
      await engine.client.loadModel(model);
      const own = await importText();
      const first = await predict(own);
      assert.deepEqual(await predict(own), first, "Denoise is not deterministic: exact comparison would be meaningless");
      references.set(model, first);
      await engine.client.release([own]);
    }
    assert.notDeepEqual(references.get(tinyA), references.get(tinyABf16), "the two models give the same output");
    handle = await importText();
  });
  after(async () => {
    await engine.stop();
  });

  const whose = (output: Buffer) => [...references].find(([, reference]) => reference.equals(output))?.[0];

  test("Denoise calls racing LoadModel of the other model each equal one model's output exactly, and none fails (defect 3)", async () => {
    const seen = new Map<string, number>();
    const failures: string[] = [];
    for (let round = 0; round < 8; round++) {
      const target = round % 2 === 0 ? tinyA : tinyABf16;
      let loading = true;
      const load = engine.client.loadModel(target).finally(() => {
        loading = false;
      });
      const hammer = async () => {
        // Keep calls in flight for the whole load, and a few after it.
        for (let after = 0; loading || after < 2; after += loading ? 0 : 1) {
          try {
            const model = whose(await predict());
            if (!model) failures.push(`round ${round}: an output equal to neither model's`);
            else seen.set(model, (seen.get(model) ?? 0) + 1);
          } catch (error) {
            failures.push(`round ${round}: ${(error as Error).message}`);
          }
        }
      };
      await Promise.all([load, hammer(), hammer(), hammer(), hammer()]);
      assert.equal(whose(await predict()), target, `round ${round}: after the load the output is not the new model's`);
    }
    assert.deepEqual(failures, []);
    assert.ok((seen.get(tinyA) ?? 0) > 0 && (seen.get(tinyABf16) ?? 0) > 0, JSON.stringify([...seen]));
  });

  test("a load refused for memory (memory_limit_bytes = 1, 1000) keeps the model and the memory limit (defect 4)", async () => {
    await engine.client.loadModel(tinyA);
    const before = await engine.client.getInfo({});
    for (const memoryLimitBytes of [1, 1000]) {
      await assert.rejects(engine.client.loadModel(tinyABf16, { memoryLimitBytes }), (error: EngineCallError) => error.code === status.RESOURCE_EXHAUSTED);
      const now = await engine.client.getInfo({});
      assert.equal(now.modelDir, tinyA);
      assert.deepEqual(now.loadedComponents, before.loadedComponents);
      assert.equal(now.memory!.limitBytes, before.memory!.limitBytes, "the refused request's limit stuck");
      assert.equal(whose(await predict()), tinyA);
    }
  });

  test("a full-size model with a limit above the machine's memory is refused from its headers, before reading (defects 4, 5)", async () => {
    await engine.client.loadModel(tinyA);
    const before = await engine.client.getInfo({});
    const { scratch, model } = copyModel(tinyA);
    try {
      rmSync(join(model, "transformer"), { recursive: true });
      const { bytes } = writeSparseTransformer(model); // 34 GB of holes
      assert.ok(bytes > before.memory!.totalBytes, "this machine holds the full model: the test cannot refuse it");
      const progress: LoadProgress[] = [];
      await assert.rejects(
        engine.client.loadModel(model, { memoryLimitBytes: 100 * 2 ** 30 }, (event) => progress.push(event)),
        (error: EngineCallError) => {
          assert.equal(error.code, status.RESOURCE_EXHAUSTED);
          assert.match(error.details, /^loading transformer needs about 3\d\.\d GiB of memory but only .* are free under the engine's \d+\.\d GiB limit/);
          return true;
        },
      );
      assert.deepEqual(progress.filter((event) => event.bytesDone > 0), [], "weights were read before the refusal");
      const now = await engine.client.getInfo({});
      assert.equal(now.modelDir, tinyA);
      assert.equal(now.memory!.limitBytes, before.memory!.limitBytes);
      assert.equal(whose(await predict()), tinyA);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("wrong tensor names are found from the headers before any weight is read; corrupt shards fail; the model stays (defects 4, 5)", async () => {
    await engine.client.loadModel(tinyABf16);
    const { scratch, model } = copyModel(tinyA);
    try {
      rmSync(join(model, "transformer"), { recursive: true });
      writeSparseTransformer(model, { rename: (key) => key.replace(/^transformer_blocks\./, "blocks.") });
      const progress: LoadProgress[] = [];
      await assert.rejects(engine.client.loadModel(model, {}, (event) => progress.push(event)), (error: EngineCallError) => {
        assert.equal(error.code, status.INVALID_ARGUMENT);
        assert.match(error.details, /missing/);
        assert.match(error.details, /transformer_blocks\.0\./);
        assert.ok(Buffer.byteLength(error.details) <= 2048);
        return true;
      });
      assert.deepEqual(progress.filter((event) => event.bytesDone > 0), [], "weights were read before the names were checked");
      assert.equal(whose(await predict()), tinyABf16);

      const truncated = copyModel(tinyA);
      try {
        const folder = join(truncated.model, "transformer");
        const shard = readdirSync(folder).find((name) => name.endsWith("00003-of-00008.safetensors"))!;
        truncateSync(join(folder, shard), statSync(join(folder, shard)).size - 64);
        await assert.rejects(engine.client.loadModel(truncated.model), (error: EngineCallError) => error.code === status.INVALID_ARGUMENT && /is truncated/.test(error.details));
      } finally {
        rmSync(truncated.scratch, { recursive: true, force: true });
      }
      assert.equal((await engine.client.getInfo({})).modelDir, tinyABf16);
      assert.equal(whose(await predict()), tinyABf16);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
