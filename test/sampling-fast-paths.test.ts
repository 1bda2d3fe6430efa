// The fast paths of the sampling loop against the code they stand in for: the Denoise codec against ts-proto's
// generated codec (byte for byte, and value for value on decode), the fused float32 CFG + Euler step and the
// float32 loops against the generic rounding loops (bit for bit), and the tensor views against copies. The generic
// loops and ts-proto are what the pipeline tests hold to diffusers and to the contract.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { execa } from "execa";

import { decodeDenoiseResponse, encodeDenoiseRequest } from "../orchestrator/src/engine/denoise-codec.js";
import { DType, DenoiseRequest, DenoiseResponse, EngineService, type Tensor } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { eulerStep, guidedEulerStepFloat32, guidedPrediction } from "../orchestrator/src/sampling/guidance.js";
import { roundBFloat16 } from "../orchestrator/src/sampling/precision.js";
import { float32Bytes, GuidedEulerWorkspace, guidedEulerStepWasm } from "../orchestrator/src/sampling/wasm/guided-euler.js";
import { float32Tensor, float32View, fromProtoTensor, toFloat32, toProtoTensor } from "../orchestrator/src/tensors/convert.js";
import { repoRoot } from "./helpers/engine.js";

/** Deterministic pseudo-random floats with a spread of magnitudes (and some exact zeros). */
function values(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = i % 97 === 0 ? 0 : ((state / 2 ** 32) * 2 - 1) * 10 ** ((state % 5) - 2);
  }
  return out;
}

const bits = (array: Float32Array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

describe("Denoise codec", () => {
  const latents = values(48 * 64, 1);
  const requests: DenoiseRequest[] = [
    { latents: toProtoTensor(float32Tensor(latents, [48, 64])), gridHeight: 6, gridWidth: 8, timestep: 0.731, conditioning: [1, 2] },
    { latents: toProtoTensor(float32Tensor(latents, [1, 48, 64])), gridHeight: 6, gridWidth: 8, timestep: 0, conditioning: [2 ** 40 + 3] },
    { latents: undefined, gridHeight: 0, gridWidth: 300, timestep: 1, conditioning: [] },
    { latents: { dtype: DType.DTYPE_BFLOAT16, shape: [], data: Buffer.alloc(0) }, gridHeight: 1, gridWidth: 1, timestep: 0.5, conditioning: [0] },
    {
      latents: { dtype: DType.DTYPE_FLOAT32, shape: [48, 64], data: Buffer.alloc(0), shared: { buffer: 3, offset: 2 ** 40 + 5 } },
      gridHeight: 6, gridWidth: 8, timestep: 0.25, conditioning: [7, 8], predictionsTo: { buffer: 3, offset: 12288 },
    },
    { latents: { ...toProtoTensor(float32Tensor(latents, [48, 64])), shared: { buffer: 0, offset: 0 } }, gridHeight: 6, gridWidth: 8, timestep: 1, conditioning: [1], predictionsTo: { buffer: 1, offset: 0 } },
  ];

  test("requests are the bytes ts-proto writes", () => {
    for (const request of requests) {
      assert.deepEqual(encodeDenoiseRequest(request), EngineService.denoise.requestSerialize(request));
    }
  });

  test("responses decode to ts-proto's values, predictions as views into the message", () => {
    const responses: DenoiseResponse[] = [
      { predictions: [toProtoTensor(float32Tensor(values(30, 2), [5, 6])), toProtoTensor(float32Tensor(values(30, 3), [5, 6]))], computeSeconds: 0.125 },
      { predictions: [], computeSeconds: 0 },
      { predictions: [{ dtype: DType.DTYPE_FLOAT32, shape: [0, 64], data: Buffer.alloc(0) }], computeSeconds: 3.5 },
      {
        predictions: [
          { dtype: DType.DTYPE_FLOAT32, shape: [48, 64], data: Buffer.alloc(0), shared: { buffer: 2, offset: 12288 } },
          { dtype: DType.DTYPE_FLOAT32, shape: [48, 64], data: Buffer.alloc(0), shared: { buffer: 2, offset: 0 } },
        ],
        computeSeconds: 0.5,
      },
    ];
    for (const response of responses) {
      const bytes = EngineService.denoise.responseSerialize(response);
      const ours = decodeDenoiseResponse(bytes);
      assert.deepEqual(ours, EngineService.denoise.responseDeserialize(bytes));
      for (const prediction of ours.predictions) {
        if (prediction.data.byteLength) assert.equal(prediction.data.buffer, bytes.buffer, "a view, not a copy");
      }
    }
  });

  test("unknown fields are skipped and truncated messages are errors", () => {
    const known = EngineService.denoise.responseSerialize({ predictions: [toProtoTensor(float32Tensor(values(4, 4), [4]))], computeSeconds: 2 });
    // Field 9 as a varint, a length-delimited and a fixed32 value, before the known fields.
    const unknown = Buffer.from([0x48, 0x96, 0x01, 0x4a, 0x02, 0x01, 0x02, 0x4d, 1, 2, 3, 4]);
    assert.deepEqual(decodeDenoiseResponse(Buffer.concat([unknown, known])), EngineService.denoise.responseDeserialize(known));
    assert.throws(() => decodeDenoiseResponse(known.subarray(0, known.length - 12)), /truncated/);
  });
});

describe("sampling step fast paths", () => {
  for (const [channels, scale] of [[64, 4], [16, 1.5], [3, 7.25]] as const) {
    const tokens = 37;
    const cond = values(tokens * channels, 5);
    const uncond = values(tokens * channels, 6);
    const latents = values(tokens * channels, 7);
    const generic = (value: number) => Math.fround(value);  // the same rounding through the generic loops

    test(`float32 CFG and Euler loops equal the generic ones bit for bit (${channels} channels, scale ${scale})`, () => {
      const guided = guidedPrediction(cond, uncond, scale, channels, Math.fround);
      assert.deepEqual(bits(guided), bits(guidedPrediction(cond, uncond, scale, channels, generic)));
      assert.deepEqual(bits(eulerStep(latents, guided, 0.7, 0.65, Math.fround)), bits(eulerStep(latents, guided, 0.7, 0.65, generic)));
    });

    test(`the fused float32 step equals CFG then Euler bit for bit (${channels} channels, scale ${scale})`, () => {
      const composed = eulerStep(latents, guidedPrediction(cond, uncond, scale, channels, generic), 0.7, 0.65, generic);
      const into = new Float32Array(latents.length).fill(Number.NaN);
      assert.deepEqual(bits(guidedEulerStepFloat32(latents, cond, uncond, scale, channels, 0.7, 0.65, into)), bits(composed));
      assert.throws(() => guidedEulerStepFloat32(latents, cond, uncond, scale, channels, 0.7, 0.65, latents), /over its input/);
    });
  }

  for (const [channels, scale] of [[64, 4], [64, 0.1], [16, 7.3], [4, 1.5], [12, -2]] as const) {
    test(`the WebAssembly step equals the JavaScript step bit for bit (${channels} channels, scale ${scale})`, () => {
      const tokens = 41;
      const cond = values(tokens * channels, 15);
      const uncond = values(tokens * channels, 16);
      const latents = values(tokens * channels, 17);
      const expected = guidedEulerStepFloat32(latents, cond, uncond, scale, channels, 0.9, 0.83);
      // The predictions at odd byte offsets, as they can sit inside a response message.
      const shifted = (array: Float32Array) => {
        const bytes = Buffer.alloc(array.byteLength + 3);
        float32Bytes(array).forEach((byte, index) => (bytes[index + 3] = byte));
        return bytes.subarray(3);
      };
      const out = new Float32Array(latents.length).fill(Number.NaN);
      const ours = guidedEulerStepWasm(float32Bytes(latents), shifted(cond), shifted(uncond), scale, channels, 0.9, 0.83, out);
      assert.ok(ours, "WebAssembly is available in Node");
      assert.deepEqual(bits(ours), bits(expected));
    });
  }

  test("a workspace's steps in place (latents and predictions in its memory) equal the JavaScript steps bit for bit", () => {
    const channels = 64;
    const tokens = 29;
    const workspace = GuidedEulerWorkspace.create(tokens * channels, channels)!;
    assert.ok(workspace, "WebAssembly is available in Node");
    let expected = values(tokens * channels, 21);
    workspace.latents[0].set(expected);
    let latents = workspace.latents[0];
    let into = workspace.latents[1];
    for (let step = 0; step < 4; step++) {
      const [cond, uncond] = [values(tokens * channels, 30 + step), values(tokens * channels, 40 + step)];
      workspace.predictions[0].set(cond);
      workspace.predictions[1].set(uncond);
      const sigma = 1 - step * 0.2;
      expected = guidedEulerStepFloat32(expected, cond, uncond, 4.5, channels, sigma, sigma - 0.2);
      const next = guidedEulerStepWasm(float32Bytes(latents), float32Bytes(workspace.predictions[0]), float32Bytes(workspace.predictions[1]), 4.5, channels, sigma, sigma - 0.2, into, workspace)!;
      assert.equal(next, into, "written where it was asked, the other slot");
      assert.deepEqual(bits(next), bits(expected), `step ${step}`);
      [latents, into] = [next, latents];
    }
    // Arrays from outside are copied in and out; writing over the input latents is refused.
    const outside = new Float32Array(tokens * channels);
    const cond = values(tokens * channels, 50);
    assert.deepEqual(bits(workspace.step(float32Bytes(expected), float32Bytes(cond), float32Bytes(cond), 2, 0.5, 0.4, outside)),
      bits(guidedEulerStepFloat32(expected, cond, cond, 2, channels, 0.5, 0.4)));
    assert.throws(() => workspace.step(float32Bytes(latents), float32Bytes(cond), float32Bytes(cond), 2, 0.5, 0.4, latents), /over its input latents/);
  });

  test("the WebAssembly step declines channel counts that are not a multiple of 4 (the JavaScript step takes them)", () => {
    for (const channels of [3, 5, 66]) {
      const data = values(7 * channels, 18);
      assert.equal(guidedEulerStepWasm(float32Bytes(data), float32Bytes(data), float32Bytes(data), 2, channels, 0.9, 0.83, new Float32Array(data.length)), null);
    }
  });

  test("the committed WebAssembly module is what scripts/generate-wasm.sh makes from guided-euler.c", async (t) => {
    if (!existsSync(join(repoRoot, ".deps", "toolchain-mode"))) return t.skip("no toolchain recorded (run npm run setup)");
    const scratch = mkdtempSync(join(repoRoot, ".deps", "wasm-check-"));
    try {
      const fresh = join(scratch, "module.ts");
      await execa("bash", [join(repoRoot, "scripts", "generate-wasm.sh"), "--out", fresh]);
      const committed = join(repoRoot, "orchestrator", "src", "sampling", "wasm", "guided-euler-module.ts");
      assert.equal(readFileSync(committed, "utf8"), readFileSync(fresh, "utf8"), "stale: run npm run generate and commit");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("bfloat16 still rounds every result to bfloat16", () => {
    const cond = values(64, 8);
    const guided = guidedPrediction(cond, values(64, 9), 4, 64, (value) => roundBFloat16(Math.fround(value)));
    for (const value of guided) assert.equal(value, roundBFloat16(value));
  });
});

describe("tensor conversions", () => {
  test("float32 data is read in place when aligned, copied when not, and toFloat32 always copies", () => {
    const data = values(10, 11);
    const tensor = float32Tensor(data, [10]);
    const view = float32View(tensor);
    assert.equal(view.buffer, data.buffer);
    const copy = toFloat32(tensor);
    assert.notEqual(copy.buffer, data.buffer);
    assert.deepEqual(copy, data);
    const shifted = Buffer.alloc(41);
    bits(data).copy(shifted, 1);
    const unaligned = float32View({ dtype: "F32", shape: [10], data: shifted.subarray(1) });
    assert.deepEqual(unaligned, data);
    const scratch = new Float32Array(16);
    const intoScratch = float32View({ dtype: "F32", shape: [10], data: shifted.subarray(1) }, scratch);
    assert.equal(intoScratch.buffer, scratch.buffer, "an unaligned tensor is copied into the scratch buffer");
    assert.deepEqual(intoScratch, data);
  });

  test("proto tensors share the bytes of the tensor they come from, both ways", () => {
    const data = values(6, 12);
    const proto: Tensor = toProtoTensor(float32Tensor(data, [2, 3]));
    assert.equal(proto.data.buffer, data.buffer);
    assert.equal(fromProtoTensor(proto).data.buffer, data.buffer);
  });

  test("bfloat16, float16 and integer storage convert to float32 values", () => {
    const bf16 = Buffer.from([0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40]);  // 1, -2, 3.140625
    assert.deepEqual(toFloat32({ dtype: "BF16", shape: [3], data: bf16 }), Float32Array.from([1, -2, 3.140625]));
    const f16 = Buffer.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c]);  // 1, -2, Infinity
    assert.deepEqual(toFloat32({ dtype: "F16", shape: [3], data: f16 }), Float32Array.from([1, -2, Infinity]));
    const ints = Buffer.from(Int32Array.from([-7, 0, 2 ** 30]).buffer);
    assert.deepEqual(toFloat32({ dtype: "I32", shape: [3], data: ints }), Float32Array.from([-7, 0, 2 ** 30]));
    assert.throws(() => toFloat32({ dtype: "F32", shape: [4], data: Buffer.alloc(8) }), /needs 16 bytes/);
  });
});
