// The Qwen3-VL text model through the engine's EncodeText RPC: parity with transformers' hidden states (the
// tiny random model of tools/reference/make_text_fixtures.py), partial loading, the cache, errors, low-memory mode.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { fromProtoTensor, float32Tensor, toFloat32, toProtoTensor } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors, type TensorData } from "../orchestrator/src/tensors/safetensors.js";
import { maxAbsDifference, rms } from "./helpers/dit-fixtures.js";
import { tinyModel } from "./helpers/pipeline-fixtures.js";
import { textFixtures } from "./helpers/processor.js";

const encoderFolder = join(textFixtures, "tiny-encoder");
const cases = readSafetensors(join(textFixtures, "encoder-cases.safetensors"));
const layers = Number(cases.metadata.layers);

const failsWith = (code: status, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof EngineCallError, String(error));
  assert.equal(error.code, code, error.details);
  assert.match(error.details, pattern);
  return true;
};

/** Row `index` of a [B, ...] tensor as numbers. */
function rowValues(tensor: TensorData, index: number): number[] {
  const values = Array.from(toFloat32(tensor));
  const size = values.length / tensor.shape[0]!;
  return values.slice(index * size, (index + 1) * size);
}

/** Parameters of the checkpoint's tensors whose names pass `keep`, from the safetensors headers. */
function checkpointParameters(keep: (name: string) => boolean): number {
  const folder = join(encoderFolder, "text_encoder");
  const index = JSON.parse(readFileSync(join(folder, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
  let total = 0;
  for (const shard of new Set(Object.values(index.weight_map))) {
    for (const [name, tensor] of readSafetensors(join(folder, shard)).tensors) {
      if (keep(name)) total += tensor.shape.reduce((a, b) => a * b, 1);
    }
  }
  return total;
}

describe("EncodeText", () => {
  let engine: LocalEngine;
  const ids = cases.tensors.get("input_ids")!;
  const masks = cases.tensors.get("attention_mask")!;

  const encode = async (row: number, hiddenLayer = 0) => {
    const response = await engine.client.unary("encodeText", {
      tokenIds: rowValues(ids, row), attentionMask: rowValues(masks, row), hiddenLayer, returnTensor: true,
    });
    return { response, values: toFloat32(fromProtoTensor(response.tensor!)) };
  };
  const expected = (layer: number, row: number) => Float32Array.from(rowValues(cases.tensors.get(`hidden_${layer}`)!, row));
  const assertClose = (ours: Float32Array, reference: Float32Array, what: string) => {
    // fp32 bound: max abs error ≤ 1e-4 × RMS of the reference.
    assert.equal(ours.length, reference.length, what);
    assert.ok(maxAbsDifference(ours, reference) <= 1e-4 * rms(reference), `${what}: max error ${maxAbsDifference(ours, reference)}, RMS ${rms(reference)}`);
  };

  before(async () => {
    engine = await LocalEngine.start();
  });
  after(async () => {
    await engine.stop();
  });

  test("the default load keeps hidden_states[-8]: only the embeddings and the first layers are read", async () => {
    const summary = await engine.client.loadModel(encoderFolder, { dtype: DType.DTYPE_FLOAT32 });
    const text = summary.components.find((component) => component.name === "text_encoder")!;
    assert.deepEqual(summary.components.map((component) => component.name), ["text_encoder"]);
    // hidden_states has layers + 1 entries (the embeddings first), so [-8] is the output of layer layers - 7.
    const depth = layers + 1 - 8;
    const needed = (name: string) => {
      const match = /^model\.language_model\.layers\.(\d+)\./.exec(name);
      return match ? Number(match[1]) < depth : name === "model.language_model.embed_tokens.weight";
    };
    assert.equal(Number(text.parameterCount), checkpointParameters(needed));
    assert.equal(Number(text.checkpointParameterCount), checkpointParameters((name) => name.startsWith("model.language_model.")));
    assert.ok(Number(text.parameterCount) < Number(text.checkpointParameterCount));
    assert.equal(text.dtype, "float32");
  });

  test("hidden_states[-8] matches transformers, for a full row and a right-padded row", async () => {
    for (const row of [0, 1]) {
      const { response, values } = await encode(row);
      assert.deepEqual(response.tensor!.shape, [ids.shape[1], 32]);
      assert.equal(response.embedding!.length, ids.shape[1]);
      assertClose(values, expected(-8, row), `row ${row}`);
    }
  });

  test("a left-padded row matches transformers too", async () => {
    const response = await engine.client.unary("encodeText", {
      tokenIds: rowValues(cases.tensors.get("left_input_ids")!, 0), attentionMask: rowValues(cases.tensors.get("left_attention_mask")!, 0),
      hiddenLayer: 0, returnTensor: true,
    });
    const reference = Float32Array.from(rowValues(cases.tensors.get("left_hidden_-8")!, 0));
    const ours = toFloat32(fromProtoTensor(response.tensor!));
    // Only the real tokens: transformers' values at masked query rows are whatever its kernel left there.
    const realRows = 13 * 32;
    assertClose(ours.subarray(ours.length - realRows), reference.subarray(reference.length - realRows), "left-padded row");
  });

  test("the same tokens are served from the cache; a different mask is not", async () => {
    const first = await encode(1);
    const second = await encode(1);
    assert.equal(second.response.cached, true);
    assert.deepEqual(second.values, first.values);
    assert.notEqual(second.response.embedding!.id, first.response.embedding!.id);
    const unmasked = await engine.client.unary("encodeText", { tokenIds: rowValues(ids, 1), attentionMask: [], hiddenLayer: 0, returnTensor: false });
    assert.equal(unmasked.cached, false);
  });

  test("a deeper hidden state than was loaded is FAILED_PRECONDITION naming the load option", async () => {
    await assert.rejects(encode(0, -2), failsWith(status.FAILED_PRECONDITION, /load with options\.text_encoder_hidden_layer = -2/));
  });

  test("loaded for hidden_states[-1], every shallower index matches too (-1 includes the final norm)", async () => {
    await engine.client.loadModel(encoderFolder, { dtype: DType.DTYPE_FLOAT32, textEncoderHiddenLayer: -1 });
    for (const layer of [-1, -2, -8, 5]) {
      for (const row of [0, 1]) assertClose((await encode(row, layer)).values, expected(layer, row), `hidden_states[${layer}] row ${row}`);
    }
  });

  test("unknown hidden layers, bad token ids and masks are INVALID_ARGUMENT", async () => {
    const tokens = rowValues(ids, 0);
    const call = (request: { tokenIds: number[]; attentionMask?: number[]; hiddenLayer?: number }) =>
      engine.client.unary("encodeText", { attentionMask: [], hiddenLayer: 0, returnTensor: false, ...request });
    await assert.rejects(call({ tokenIds: tokens, hiddenLayer: layers + 1 }), failsWith(status.INVALID_ARGUMENT, /hidden/));
    await assert.rejects(call({ tokenIds: tokens, hiddenLayer: -(layers + 2) }), failsWith(status.INVALID_ARGUMENT, /hidden/));
    await assert.rejects(call({ tokenIds: [1, 512] }), failsWith(status.INVALID_ARGUMENT, /token id 512 is outside the text encoder's vocabulary of 512/));
    await assert.rejects(call({ tokenIds: [] }), failsWith(status.INVALID_ARGUMENT, /token_ids is empty/));
    await assert.rejects(call({ tokenIds: [1, 2], attentionMask: [1] }), failsWith(status.INVALID_ARGUMENT, /attention_mask has 1 entries for 2 tokens/));
    await assert.rejects(call({ tokenIds: [1, 2], attentionMask: [0, 0] }), failsWith(status.INVALID_ARGUMENT, /marks no token as real/));
    await assert.rejects(
      engine.client.loadModel(encoderFolder, { textEncoderHiddenLayer: 40 }),
      failsWith(status.INVALID_ARGUMENT, /hidden/),
    );
    assert.equal((await engine.client.health()).serving, true);
  });

  test("8-bit and 4-bit linears: smaller, and errors in the ratio their step sizes predict", async () => {
    const reference = expected(-8, 0);
    const relativeError = (values: Float32Array) => {
      let error = 0;
      let norm = 0;
      values.forEach((value, i) => {
        error += (value - reference[i]!) ** 2;
        norm += reference[i]! ** 2;
      });
      return Math.sqrt(error / norm);
    };
    const errors: number[] = [];
    for (const bits of [8, 4]) {
      // group 32: the tiny model's rows are 32 wide (the release's are multiples of 64).
      const summary = await engine.client.loadModel(encoderFolder, { dtype: DType.DTYPE_FLOAT32, textEncoder: { bits, groupSize: 32 } });
      const text = summary.components[0]!;
      assert.equal(text.quantization, `${bits}-bit linears (group 32)`);
      assert.ok(Number(text.bytes) < Number(text.parameterCount) * 4 * 0.75, `${bits}-bit resident ${text.bytes} bytes`);
      errors.push(relativeError((await encode(0)).values));
    }
    // Affine quantization's step is range/(2^bits - 1): 4-bit steps are 17× the 8-bit ones, and so are the errors.
    assert.ok(errors[0]! < 0.05, `8-bit relative error ${errors[0]}`);
    assert.ok(errors[1]! / errors[0]! > 8 && errors[1]! / errors[0]! < 34, `4-bit/8-bit error ratio ${errors[1]! / errors[0]!}`);
  });

  test("low-memory mode drops the text encoder when denoising starts, with a message saying how to get it back", async () => {
    await engine.client.loadModel(tinyModel, { dtype: DType.DTYPE_FLOAT32, unloadTextEncoderAfterEncode: true, components: ["transformer", "text_encoder"] });
    const { handle } = await engine.client.encodeText([1, 2, 3]);
    const latents = toProtoTensor(float32Tensor(new Float32Array(15 * 16), [15, 16]));
    await engine.client.denoise(latents, { height: 3, width: 5 }, 0.5, [Number(handle.id)]);
    const info = await engine.client.getInfo();
    assert.deepEqual(info.loadedComponents.map((component) => component.name), ["transformer"]);
    await assert.rejects(engine.client.encodeText([1, 2, 3]), failsWith(status.FAILED_PRECONDITION, /unloaded when denoising started \(low-memory mode\): load it again/));
    // The embedding made before the unload stays usable.
    await engine.client.denoise(latents, { height: 3, width: 5 }, 0.5, [Number(handle.id)]);
    await engine.client.loadModel(tinyModel, { components: ["text_encoder"] });
    assert.ok((await engine.client.encodeText([1, 2, 3])).handle.id > 0);
  });
});
