// The VAE through the engine's Decode RPC: parity with diffusers, float output, and the error paths.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { fromProtoTensor, toFloat32, toProtoTensor } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { maxAbsDifference, rms } from "./helpers/dit-fixtures.js";
import { pipelineFixtures, tinyModel } from "./helpers/pipeline-fixtures.js";

const failsWith = (code: status, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof EngineCallError, String(error));
  assert.equal(error.code, code, error.details);
  assert.match(error.details, pattern);
  return true;
};

const fixture = readSafetensors(join(pipelineFixtures, "vae-decode.safetensors"));
const latents = toProtoTensor(fixture.tensors.get("latents")!);
const grid = { gridHeight: 3, gridWidth: 5 };
/** A 1024² decode with float output: 256 KiB of latents in, 15 MiB of image out. */
const largeDecode = {
  latents: { dtype: DType.DTYPE_FLOAT32, shape: [64 * 64, 16], data: Buffer.alloc(64 * 64 * 16 * 4) },
  gridHeight: 64, gridWidth: 64, floatOutput: true,
};

describe("Decode", () => {
  let engine: LocalEngine;
  before(async () => {
    engine = await LocalEngine.start();
  });
  after(async () => {
    await engine.stop();
  });

  test("without a VAE loaded it is FAILED_PRECONDITION", async () => {
    await assert.rejects(engine.client.unary("decode", { latents, ...grid, floatOutput: false }), failsWith(status.FAILED_PRECONDITION, /no VAE is loaded/));
  });

  test("LoadModel loads every component present; GetInfo lists them; the VAE's encoder is not loaded", async () => {
    const summary = await engine.client.loadModel(tinyModel);
    const names = ["transformer", "vae", "text_encoder"];
    assert.deepEqual(summary.components.map((component) => component.name), names);
    const info = await engine.client.getInfo();
    assert.deepEqual(info.loadedComponents.map((component) => component.name).sort(), [...names].sort());
    const vae = summary.components.find((component) => component.name === "vae")!;
    assert.ok(Number(vae.parameterCount) < Number(vae.checkpointParameterCount));
  });

  test("the float image matches diffusers (max error ≤ 1e-4 × RMS) and the RGB8 image is its rounding", async () => {
    const response = await engine.client.unary("decode", { latents, ...grid, floatOutput: true });
    const ours = fromProtoTensor(response.floatImage!);
    assert.deepEqual(ours.shape, [3, 48, 80]);
    const expected = toFloat32(fixture.tensors.get("image")!);
    assert.ok(maxAbsDifference(toFloat32(ours), expected) <= 1e-4 * rms(expected));
    const rgb = fromProtoTensor(response.image!);
    assert.deepEqual(rgb.shape, [48, 80, 3]);
    assert.equal(rgb.dtype, "U8");
    // pixel (row 7, column 11): round((x / 2 + 0.5) · 255) of each channel
    for (let channel = 0; channel < 3; channel++) {
      const x = expected[channel * 48 * 80 + 7 * 80 + 11]!;
      const level = Math.round(Math.min(1, Math.max(0, x / 2 + 0.5)) * 255);
      assert.ok(Math.abs(rgb.data[(7 * 80 + 11) * 3 + channel]! - level) <= 1);
    }
  });

  test("wrong widths and grids are INVALID_ARGUMENT", async () => {
    const narrow = { dtype: DType.DTYPE_FLOAT32, shape: [15, 64], data: Buffer.alloc(15 * 64 * 4) };
    await assert.rejects(engine.client.unary("decode", { latents: narrow, ...grid, floatOutput: false }), failsWith(status.INVALID_ARGUMENT, /this VAE takes 16 \(packed latents of z_dim 4/));
    await assert.rejects(engine.client.unary("decode", { latents, gridHeight: 5, gridWidth: 5, floatOutput: false }), failsWith(status.INVALID_ARGUMENT, /grid 5×5 has 25 tokens/));
    assert.equal((await engine.client.health()).serving, true);
  });

  test("messages over gRPC's 4 MiB default pass both ways (a 1024² decode with float output is 15 MiB)", async () => {
    const response = await engine.client.unary("decode", largeDecode);
    assert.deepEqual(fromProtoTensor(response.floatImage!).shape, [3, 1024, 1024]);
    assert.deepEqual(fromProtoTensor(response.image!).shape, [1024, 1024, 3]);
    // 6 MiB the other way: an embedding of 196608 × 8 float32 values (the tiny transformer's joint_attention_dim).
    const embedding = { dtype: DType.DTYPE_FLOAT32, shape: [196_608, 8], data: Buffer.alloc(196_608 * 8 * 4, 1) };
    const handle = await engine.client.unary("importEmbedding", { embedding });
    assert.equal(handle.embedding?.length, 196_608);
    await engine.client.release([handle.embedding!.id]);
  });
});

describe("--max-message-mb", () => {
  test("caps the requests the engine accepts (RESOURCE_EXHAUSTED), not its answers; the engine keeps serving", async () => {
    const engine = await LocalEngine.start({ maxMessageMb: 1 });
    try {
      await engine.client.loadModel(tinyModel);
      const embedding = { dtype: DType.DTYPE_FLOAT32, shape: [65_536, 8], data: Buffer.alloc(65_536 * 8 * 4, 1) };
      await assert.rejects(
        engine.client.unary("importEmbedding", { embedding }),
        (error: unknown) => error instanceof EngineCallError && error.code === status.RESOURCE_EXHAUSTED,
      );
      // A 256 KiB request whose answer is 15 MiB.
      const response = await engine.client.unary("decode", largeDecode);
      assert.deepEqual(fromProtoTensor(response.floatImage!).shape, [3, 1024, 1024]);
    } finally {
      await engine.stop();
    }
  });
});

describe("a Decode that fails inside MLX", () => {
  test("is INTERNAL naming MLX, and the engine keeps serving", async () => {
    const engine = await LocalEngine.start({ env: { NUCLEUS_INJECT_MLX_FAILURE: "Decode" } });
    try {
      await engine.client.loadModel(tinyModel);
      for (let call = 0; call < 2; call++) {
        await assert.rejects(engine.client.unary("decode", { latents, ...grid, floatOutput: false }), failsWith(status.INTERNAL, /Decode failed in MLX: .*reshape/i));
      }
      assert.equal((await engine.client.health()).serving, true);
      assert.ok((await engine.client.getInfo()).loadedComponents.some((component) => component.name === "vae"));
    } finally {
      await engine.stop();
    }
  });
});
