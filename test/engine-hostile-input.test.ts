// Requests and model folders built to break the engine (issue 11, defects 1, 2, 14 and 15): each gets a clear
// status and the same engine process keeps serving.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { copyModel, editConfig, floats, ordinary, overwriteTensor, pipelineModel, send, tensorMessage, tinyA, Wire } from "./helpers/hostile.js";

const MAX_I32 = 2n ** 31n - 1n;
const MAX_U32 = 2 ** 32 - 1;

describe("hostile requests", () => {
  let engine: LocalEngine;
  let pid: number;
  let handle: number;
  before(async () => {
    engine = await LocalEngine.start();
    pid = engine.pid!;
  });
  after(async () => {
    await engine.stop();
  });

  /** The call's status and message, after which the same engine must still answer. */
  async function expect(method: Parameters<typeof send>[1], message: Wire, code: status, pattern: RegExp): Promise<void> {
    const result = await send(engine, method, message);
    assert.equal(status[result.code], status[code], `${method}: ${result.details}`);
    assert.match(result.details, pattern);
    assert.ok(Buffer.byteLength(result.details) <= 2048);
    assert.equal(engine.pid, pid, "the engine was restarted");
    assert.equal((await engine.client.health()).serving, true, "the engine stopped serving");
  }

  const latents = (count: number, value: number | ((i: number) => number) = ordinary) => tensorMessage(DType.DTYPE_FLOAT32, [count, 16], floats(count * 16, value));
  const denoise = (body: Wire, h: number, w: number, handles: (number | bigint)[]) => new Wire().bytes(1, body).varint(2, h).varint(3, w).float(4, 0.5).packed(5, handles);
  const decode = (body: Wire, h: number, w: number) => new Wire().bytes(1, body).varint(2, h).varint(3, w);

  test("tensor shapes whose element count overflows: INVALID_ARGUMENT without a model and with one (defect 1)", async () => {
    const shapes = [[MAX_I32, MAX_I32], [65536, 65536, 65536, 65536]];
    for (const loaded of [false, true]) {
      if (loaded) await engine.client.loadModel(pipelineModel);
      for (const shape of shapes) {
        await expect("ImportEmbedding", new Wire().bytes(1, tensorMessage(DType.DTYPE_FLOAT32, shape)), status.INVALID_ARGUMENT, /^embedding has shape \[.*\], more elements than any tensor can hold/);
        const mask = new Wire().bytes(1, tensorMessage(DType.DTYPE_FLOAT32, [2, 8], floats(16, ordinary))).bytes(2, tensorMessage(DType.DTYPE_FLOAT32, shape));
        await expect("ImportEmbedding", mask, status.INVALID_ARGUMENT, /^mask has shape/);
        await expect("Denoise", denoise(tensorMessage(DType.DTYPE_FLOAT32, shape), 2, 2, [1]), status.INVALID_ARGUMENT, /^latents has shape/);
        // In bfloat16 [2^31-1, 2^31-1] just fits in 64-bit bytes: then it is the byte count that is wrong.
        await expect("Decode", decode(tensorMessage(DType.DTYPE_BFLOAT16, shape), 2, 2), status.INVALID_ARGUMENT, /^latents (has shape .*, more elements|holds 0 bytes but a bfloat16 tensor)/);
      }
    }
    handle = (await engine.client.importEmbedding({ dtype: DType.DTYPE_FLOAT32, shape: [5, 8], data: floats(40, ordinary) })).id;
  });

  test("grids of 2^32-1 × 2^32-1 and 2^32-1 × (2^31+1) with valid small latents: INVALID_ARGUMENT (defect 1)", async () => {
    for (const [h, w] of [[MAX_U32, MAX_U32], [MAX_U32, 2 ** 31 + 1]] as const) {
      await expect("Denoise", denoise(latents(4), h, w, [handle]), status.INVALID_ARGUMENT, /is not a token grid/);
      await expect("Decode", decode(latents(4), h, w), status.INVALID_ARGUMENT, /is not a token grid/);
    }
    // A grid whose product fits but does not match S is still the ordinary error.
    await expect("Denoise", denoise(latents(4), MAX_U32, 2, [handle]), status.INVALID_ARGUMENT, /grid 4294967295×2 has 8589934590 tokens but the latents have S = 4/);
  });

  test("3,000,000 conditioning handles in one Denoise: INVALID_ARGUMENT (defect 1)", async () => {
    await expect("Denoise", denoise(latents(4), 2, 2, Array(3_000_000).fill(handle)), status.INVALID_ARGUMENT, /3000000 conditionings in one call: send at most 16/);
  });

  test("memory_limit_bytes of 2^63, 2^64-1 and 100 GiB are clamped to the machine's memory (defects 1 and 5)", async () => {
    for (const limit of [2n ** 63n, 2n ** 64n - 1n, 100n * 2n ** 30n]) {
      const result = await send(engine, "LoadModel", new Wire().bytes(1, pipelineModel).bytes(2, new Wire().varint(6, limit)));
      assert.equal(status[result.code], "OK", result.details);
      const memory = (await engine.client.getInfo({})).memory!;
      assert.ok(memory.limitBytes > 0 && memory.limitBytes <= memory.totalBytes, `limit ${memory.limitBytes} > total ${memory.totalBytes}`);
    }
    assert.equal(engine.pid, pid);
  });

  test("NaN and infinite inputs are refused; extreme finite ones that overflow the model are INVALID_ARGUMENT (defect 14)", async () => {
    await engine.client.loadModel(pipelineModel);
    const embedding = (value: number | ((i: number) => number)) => new Wire().bytes(1, tensorMessage(DType.DTYPE_FLOAT32, [5, 8], floats(40, value)));
    await expect("ImportEmbedding", embedding((i) => (i === 17 ? NaN : ordinary(i))), status.INVALID_ARGUMENT, /embedding contains NaN or infinite values/);
    await expect("ImportEmbedding", embedding((i) => (i === 3 ? -Infinity : ordinary(i))), status.INVALID_ARGUMENT, /embedding contains NaN or infinite values/);
    const halfInfinity = Buffer.alloc(80);
    halfInfinity.writeUInt16LE(0x7c00, 10);
    await expect("ImportEmbedding", new Wire().bytes(1, tensorMessage(DType.DTYPE_FLOAT16, [5, 8], halfInfinity)), status.INVALID_ARGUMENT, /NaN or infinite/);
    await expect("Denoise", denoise(latents(4, (i) => (i === 5 ? NaN : ordinary(i))), 2, 2, [handle]), status.INVALID_ARGUMENT, /latents contain NaN or infinite values/);
    await expect("Decode", decode(latents(4, (i) => (i === 63 ? Infinity : ordinary(i))), 2, 2), status.INVALID_ARGUMENT, /latents contain NaN or infinite values/);

    // Finite but far outside any real latent: the forward overflows. Named as the client's inputs, not INTERNAL.
    await expect("Denoise", denoise(latents(4, 3e38), 2, 2, [handle]), status.INVALID_ARGUMENT, /the transformer produced NaN or infinite values at timestep 0\.5: the inputs are far outside the model's range \(latents up to \|x\| = 3e\+38/);
    await expect("Decode", decode(latents(4, 3e38), 2, 2), status.INVALID_ARGUMENT, /the VAE decoder produced NaN or infinite values decoding a 2×2 grid: the inputs are far outside/);
    // Extreme embeddings are normalised away by the text path (RMSNorm of an overflowing row is 0): an answer,
    // not a failure, either way never INTERNAL.
    const huge = (await engine.client.importEmbedding({ dtype: DType.DTYPE_FLOAT32, shape: [5, 8], data: floats(40, (i) => 3.4e38 * Math.sin(i)) })).id;
    const answer = await send(engine, "Denoise", denoise(latents(4), 2, 2, [huge]));
    assert.ok(["OK", "INVALID_ARGUMENT"].includes(status[answer.code]!), `${status[answer.code]}: ${answer.details}`);
  });

  test("a NaN produced inside the model from normal inputs is reported naming the step (defect 14)", async () => {
    const { scratch, model } = copyModel(pipelineModel);
    try {
      overwriteTensor(model, "transformer", "img_in.bias", (bytes) => {
        for (let i = 0; i + 1 < bytes.length; i += 2) bytes.writeUInt16LE(0x7fc0, i); // bf16 NaN
      });
      await engine.client.loadModel(model);
      const id = (await engine.client.importEmbedding({ dtype: DType.DTYPE_FLOAT32, shape: [5, 8], data: floats(40, ordinary) })).id;
      await expect("Denoise", denoise(latents(4), 2, 2, [id]), status.FAILED_PRECONDITION, /the transformer produced NaN or infinite values at timestep 0\.5 from inputs in a normal range .*: the loaded weights are broken/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("absurd layer counts are refused from the config before anything is allocated (defect 2)", async () => {
    const { scratch, model } = copyModel(pipelineModel);
    try {
      const cases: [string, (config: Record<string, unknown>) => void, RegExp][] = [
        ["transformer", (config) => { config.num_layers = 100_000_000; delete config.capacity_factors; }, /transformer\/config\.json: num_layers 100000000 is outside 1\.\.\.1024/],
        ["transformer", (config) => { config.num_layers = 100_000_000; config.capacity_factors = 2.0; }, /num_layers 100000000 is outside/],
        ["text_encoder", (config) => { (config.text_config as Record<string, unknown>).num_hidden_layers = 1_000_000_000; }, /text_encoder\/config\.json: num_hidden_layers 1000000000 is outside/],
      ];
      const before = (await engine.client.getInfo({})).memory!.peakRssBytes;
      for (const [component, edit, pattern] of cases) {
        const copy = copyModel(model);
        try {
          editConfig(copy.model, component, edit);
          await assert.rejects(engine.client.loadModel(copy.model), (error: EngineCallError) => error.code === status.INVALID_ARGUMENT && pattern.test(error.details));
          await assert.rejects(engine.client.inspectModel(copy.model), (error: EngineCallError) => error.code === status.INVALID_ARGUMENT && pattern.test(error.details));
        } finally {
          rmSync(copy.scratch, { recursive: true, force: true });
        }
      }
      // 10^8 capacity factors alone would be 800 MB; the engine's high-water mark did not move by a tenth of that.
      const peak = (await engine.client.getInfo({})).memory!.peakRssBytes;
      assert.ok(peak - before < 80e6, `peak RSS grew by ${((peak - before) / 1e6).toFixed(0)} MB`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("large requests count against the memory limit while they are handled (defect 7)", async () => {
    await engine.client.loadModel(pipelineModel, { memoryLimitBytes: 64 * 2 ** 20 });
    try {
      // 30 MB of embedding: the message, its decoded copy and the array come to about 90 MB, over a 64 MiB limit.
      const rows = 937_500;
      await expect("ImportEmbedding", new Wire().bytes(1, tensorMessage(DType.DTYPE_FLOAT32, [rows, 8], Buffer.alloc(rows * 32))), status.RESOURCE_EXHAUSTED,
        /^ImportEmbedding with a 29 MiB message needs about 86 MiB of memory while it is handled, but only \d+ MiB of the engine's 64 MiB limit are free/);
      const small = await send(engine, "ImportEmbedding", new Wire().bytes(1, tensorMessage(DType.DTYPE_FLOAT32, [rows / 10, 8], Buffer.alloc(rows * 32 / 10))));
      assert.equal(status[small.code], "OK", small.details);
    } finally {
      await engine.client.loadModel(pipelineModel, { memoryLimitBytes: 8 * 2 ** 30 });
    }
  });

  test("small sizes in memory refusals and a file given as the model folder read clearly (defect 15)", async () => {
    await assert.rejects(engine.client.loadModel(tinyA, { memoryLimitBytes: 1 }), (error: EngineCallError) => {
      assert.equal(error.code, status.RESOURCE_EXHAUSTED);
      assert.match(error.details, /^loading transformer needs about \d+(\.\d)? (MiB|KiB) of memory but only 1 byte are free under the engine's 1 byte limit/);
      assert.doesNotMatch(error.details, /\b0 MiB/);
      return true;
    });
    await assert.rejects(engine.client.loadModel("/etc/passwd"), (error: EngineCallError) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.match(error.details, /^\/etc\/passwd is a file, not a model folder/);
      return true;
    });
  });
});
