// The DiT through the engine's RPCs (LoadModel, ImportEmbedding, Denoise, Release) over a real socket, compared
// with diffusers' outputs; and every error path with its status code.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { fromProtoTensor, toFloat32, toProtoTensor } from "../orchestrator/src/tensors/convert.js";
import { loadDiTCase, maxAbsDifference, rms, row } from "./helpers/dit-fixtures.js";

const expectCode = (code: status, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof EngineCallError, String(error));
  assert.equal(error.code, code, `${status[error.code]}: ${error.details}`);
  assert.match(error.details, pattern);
  return true;
};

describe("DiT through the engine", () => {
  let engine: LocalEngine;
  before(async () => {
    engine = await LocalEngine.start();
  });
  after(async () => {
    await engine.stop();
  });

  test("before LoadModel, Denoise is FAILED_PRECONDITION", async () => {
    const fixture = loadDiTCase("a-fp32");
    const handle = await engine.client.importEmbedding(toProtoTensor(row(fixture.text, 0)));
    await assert.rejects(
      engine.client.denoise(toProtoTensor(row(fixture.latents, 0)), fixture.grid, 0.5, [handle.id]),
      expectCode(status.FAILED_PRECONDITION, /LoadModel/),
    );
  });

  test("LoadModel streams progress, ends with a summary, and GetInfo lists the transformer", async () => {
    const fixture = loadDiTCase("a-fp32");
    const progress: number[] = [];
    const summary = await engine.client.loadModel(fixture.modelDir, {}, (event) => progress.push(Number(event.bytesDone)));
    assert.ok(progress.length >= 2);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
    assert.equal(summary.components[0]?.name, "transformer");
    assert.equal(summary.components[0]?.dtype, "float32");
    assert.equal(summary.components[0]?.quantization, "none");
    assert.ok(Number(summary.components[0]?.parameterCount) > 0);
    const info = await engine.client.getInfo();
    assert.equal(info.modelDir, fixture.modelDir);
    assert.equal(info.loadedComponents[0]?.name, "transformer");
  });

  for (const name of ["a-fp32", "a-fp32-batch-masked", "b-fp32-odd", "c-fp32-mha"]) {
    test(`Denoise matches diffusers (${name}): max error ≤ 1e-4 × RMS`, async () => {
      const fixture = loadDiTCase(name);
      await engine.client.loadModel(fixture.modelDir);
      const batch = fixture.latents.shape[0]!;
      for (let sample = 0; sample < batch; sample++) {
        const handle = await engine.client.importEmbedding(
          toProtoTensor(row(fixture.text, sample)),
          fixture.mask ? toProtoTensor(row(fixture.mask, sample)) : undefined,
        );
        const response = await engine.client.denoise(
          toProtoTensor(row(fixture.latents, sample)), fixture.grid, fixture.timesteps[sample]!, [handle.id]);
        const ours = toFloat32(fromProtoTensor(response.predictions[0]!));
        const expected = toFloat32(row(fixture.expected, sample));
        assert.ok(maxAbsDifference(ours, expected) <= 1e-4 * rms(toFloat32(fixture.expected)), `sample ${sample}`);
        assert.ok(response.computeSeconds > 0);
        assert.equal(await engine.client.release([handle.id]), 1);
      }
    });
  }

  test("several conditionings in one Denoise equal one call each (CFG batch), and the text cache is exact", async () => {
    const fixture = loadDiTCase("a-fp32-batch-masked");
    await engine.client.loadModel(fixture.modelDir);
    const handles = [];
    for (let sample = 0; sample < 2; sample++) {
      handles.push((await engine.client.importEmbedding(toProtoTensor(row(fixture.text, sample)), toProtoTensor(row(fixture.mask!, sample)))).id);
    }
    const latents = toProtoTensor(row(fixture.latents, 0));
    const together = await engine.client.denoise(latents, fixture.grid, 0.41, handles);
    assert.equal(together.predictions.length, 2);
    for (let index = 0; index < 2; index++) {
      const alone = await engine.client.denoise(latents, fixture.grid, 0.41, [handles[index]!]);
      const a = toFloat32(fromProtoTensor(together.predictions[index]!));
      const b = toFloat32(fromProtoTensor(alone.predictions[0]!));
      assert.ok(maxAbsDifference(a, b) <= 1e-5 * rms(a), `conditioning ${index}`);
      // The second call used the cached text K/V; it must give exactly what the first (uncached) one gave.
      const again = toFloat32(fromProtoTensor((await engine.client.denoise(latents, fixture.grid, 0.41, [handles[index]!])).predictions[0]!));
      assert.deepEqual(again, b);
    }
    await engine.client.release(handles);
  });

  test("bad inputs get the right status codes and the engine stays up", async () => {
    const fixture = loadDiTCase("a-fp32");
    await engine.client.loadModel(fixture.modelDir);
    const handle = (await engine.client.importEmbedding(toProtoTensor(row(fixture.text, 0)))).id;
    const latents = toProtoTensor(row(fixture.latents, 0));

    const narrow = { dtype: DType.DTYPE_FLOAT32, shape: [60, 16], data: Buffer.alloc(60 * 16 * 4) };
    await assert.rejects(engine.client.denoise(narrow, fixture.grid, 0.5, [handle]), expectCode(status.INVALID_ARGUMENT, /takes 64 \(in_channels = latent channels/));
    await assert.rejects(
      engine.client.denoise(latents, { height: 7, width: 10 }, 0.5, [handle]),
      expectCode(status.INVALID_ARGUMENT, /grid 7×10 has 70 tokens but the latents have S = 60/),
    );
    await assert.rejects(engine.client.denoise(latents, fixture.grid, 0.5, [987654]), expectCode(status.NOT_FOUND, /unknown embedding handle 987654/));
    await assert.rejects(engine.client.denoise(latents, fixture.grid, 1.5, [handle]), expectCode(status.INVALID_ARGUMENT, /timestep/));
    await assert.rejects(engine.client.denoise(latents, fixture.grid, 0.5, []), expectCode(status.INVALID_ARGUMENT, /conditioning is empty/));
    const shortData = { ...latents, data: latents.data.subarray(0, 100) };
    await assert.rejects(engine.client.denoise(shortData, fixture.grid, 0.5, [handle]), expectCode(status.INVALID_ARGUMENT, /holds 100 bytes/));

    const wide = { dtype: DType.DTYPE_FLOAT32, shape: [5, 31], data: Buffer.alloc(5 * 31 * 4) };
    await assert.rejects(engine.client.importEmbedding(wide), expectCode(status.INVALID_ARGUMENT, /joint_attention_dim 24/));

    assert.equal(await engine.client.release([handle]), 1);
    await assert.rejects(engine.client.denoise(latents, fixture.grid, 0.5, [handle]), expectCode(status.NOT_FOUND, /released or never imported/));
    assert.equal(await engine.client.release([handle]), 0);
    assert.equal((await engine.client.health()).serving, true);
  });

  test("a forward that would not fit under the memory limit is RESOURCE_EXHAUSTED", async () => {
    const fixture = loadDiTCase("a-fp32");
    await engine.client.loadModel(fixture.modelDir, { memoryLimitBytes: 1_500_000 });
    const handle = (await engine.client.importEmbedding(toProtoTensor(row(fixture.text, 0)))).id;
    const tokens = 64 * 64;
    const big = { dtype: DType.DTYPE_FLOAT32, shape: [tokens, 64], data: Buffer.alloc(tokens * 64 * 4) };
    await assert.rejects(
      engine.client.denoise(big, { height: 64, width: 64 }, 0.5, [handle]),
      expectCode(status.RESOURCE_EXHAUSTED, /needs about .* of memory/),
    );
    await assert.rejects(
      engine.client.loadModel(fixture.modelDir, { memoryLimitBytes: 1000 }),
      expectCode(status.RESOURCE_EXHAUSTED, /quantize/),
    );
    await engine.client.loadModel(fixture.modelDir, { memoryLimitBytes: 16 * 2 ** 30 });
  });

  test("8-bit and 4-bit quantization at load, reported in the summary, errors in the ratio of their steps", async () => {
    const fixture = loadDiTCase("a-fp32");
    const deviations: number[] = [];
    for (const bits of [8, 4]) {
      const summary = await engine.client.loadModel(fixture.modelDir, {
        transformer: { bits, groupSize: 32 }, experts: { bits, groupSize: 32 },
      });
      assert.equal(summary.components[0]?.quantization, `${bits}-bit linears (group 32), ${bits}-bit experts (group 32)`);
      const handle = (await engine.client.importEmbedding(toProtoTensor(row(fixture.text, 0)))).id;
      const response = await engine.client.denoise(toProtoTensor(row(fixture.latents, 0)), fixture.grid, fixture.timesteps[0]!, [handle]);
      const ours = toFloat32(fromProtoTensor(response.predictions[0]!));
      const expected = toFloat32(fixture.expected);
      deviations.push(rms(ours.map((value, i) => value - expected[i]!)) / rms(expected));
      await engine.client.release([handle]);
    }
    // The bounds of swift-engine/Sources/NucleusModels/Support/ParityBounds.swift (derivation there): 8-bit within
    // 3 % relative RMS; 4-bit within 51 % and 8.5 to 34 times the 8-bit deviation (its steps are 17 times larger).
    const [eight, four] = deviations as [number, number];
    assert.ok(eight > 0 && eight <= 0.03, `8-bit deviation ${eight}`);
    assert.ok(four <= 0.51, `4-bit deviation ${four}`);
    assert.ok(four / eight >= 8.5 && four / eight <= 34, `4-bit deviation ${four} is ${four / eight} × the 8-bit one (${eight})`);
  });

  test("ImportEmbedding takes diffusers' batch axis: [1, L, D] with a [1, L] mask equals [L, D] with [L]", async () => {
    const fixture = loadDiTCase("a-fp32-batch-masked");
    await engine.client.loadModel(fixture.modelDir);
    const text = row(fixture.text, 0);
    const mask = row(fixture.mask!, 0);
    const batched = { ...text, shape: [1, ...text.shape] };
    const batchedMask = { ...mask, shape: [1, ...mask.shape] };
    const flat = (await engine.client.importEmbedding(toProtoTensor(text), toProtoTensor(mask))).id;
    const withBatch = await engine.client.importEmbedding(toProtoTensor(batched), toProtoTensor(batchedMask));
    assert.equal(withBatch.length, text.shape[0]);
    assert.equal(withBatch.width, text.shape[1]);
    const latents = toProtoTensor(row(fixture.latents, 0));
    // One call per handle: the CPU kernels may sum a batch's rows in different orders, the same row never.
    const predict = async (handle: number) =>
      toFloat32(fromProtoTensor((await engine.client.denoise(latents, fixture.grid, fixture.timesteps[0]!, [handle])).predictions[0]!));
    const [a, b] = [await predict(flat), await predict(withBatch.id)];
    assert.deepEqual(b, a);
    const expected = toFloat32(row(fixture.expected, 0));
    assert.ok(maxAbsDifference(b!, expected) <= 1e-4 * rms(toFloat32(fixture.expected)), "against diffusers");
    // A batch of two is not one prompt: refused, with the shape named.
    const two = { ...fixture.text, data: fixture.text.data };
    await assert.rejects(engine.client.importEmbedding(toProtoTensor(two)), expectCode(status.INVALID_ARGUMENT, /\[2, 16, 24\]/));
    await engine.client.release([flat, withBatch.id]);
  });

  test("bad model folders and options are clear errors", async () => {
    const fixture = loadDiTCase("a-fp32");
    await assert.rejects(engine.client.loadModel("/nonexistent/model"), expectCode(status.NOT_FOUND, /does not exist/));
    await assert.rejects(engine.client.loadModel(fixture.modelDir, { transformer: { bits: 3, groupSize: 64 } }), expectCode(status.INVALID_ARGUMENT, /bits must be 0, 4 or 8/));
    await assert.rejects(engine.client.loadModel(fixture.modelDir, { components: ["unet"] }), expectCode(status.INVALID_ARGUMENT, /unknown component 'unet'/));

    const scratch = mkdtempSync(join(tmpdir(), "nucleus-test-"));
    try {
      cpSync(fixture.modelDir, scratch, { recursive: true });
      const shard = readdirSync(join(scratch, "transformer")).find((name) => name.endsWith("00002-of-00008.safetensors"))!;
      const path = join(scratch, "transformer", shard);
      truncateSync(path, statSync(path).size - 100);
      await assert.rejects(engine.client.loadModel(scratch), expectCode(status.INVALID_ARGUMENT, new RegExp(`${shard} is truncated`)));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    assert.equal((await engine.client.health()).serving, true);
  });
});
