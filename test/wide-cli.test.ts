// The CLI's success paths on the wide fixture (every quantizable width a multiple of 64, bf16 weights, its own
// tokenizer; tools/reference/make_wide_fixtures.py), against diffusers' NucleusMoEImagePipeline and transformers:
// text -> image with a text negative and CFG in float32 and bfloat16, --quantize 8|4 and --text-quantize 8|4 at the
// default group size, --system-prompt / --no-system-prompt, encode --hidden-layer, --low-memory, and the default
// output name with a random seed.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { decodePng, readPngText } from "../orchestrator/src/image/png.js";
import { toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { runCli } from "./helpers/cli.js";
import { maxAbsDifference, rms } from "./helpers/dit-fixtures.js";
import { enginePids } from "./helpers/engine.js";
import { QUANTIZED_BOUNDS } from "./helpers/parity-bounds.js";
import { rmsDistance, wideCase, wideModel } from "./helpers/wide-fixtures.js";

const pipeline = wideCase("pipeline");
const text = wideCase("text");
const prompt = pipeline.text("prompt");
const negative = pipeline.text("negative_prompt");
const sizeArgs = ["--seed", pipeline.text("seed"), "--steps", pipeline.text("steps"), "--cfg", pipeline.text("guidance_scale"),
  "--width", pipeline.text("width"), "--height", pipeline.text("height")];

interface Parameters {
  seed: number;
  dtype: string;
  quantization: string;
  text_encoder_quantization?: string;
  negative_prompt?: string;
  system_prompt?: string | null;
}

describe("the CLI on the wide model", () => {
  let output: string;
  let backend: string;
  before(async () => {
    output = mkdtempSync(join(tmpdir(), "nucleus-wide-"));
    const engine = await LocalEngine.start();
    backend = engine.ready.backend;
    await engine.stop();
  });
  after(() => {
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  /** generate PROMPT --negative NEGATIVE with the fixture's settings; returns the final latents and the metadata. */
  async function generate(name: string, flags: string[]): Promise<{ latents: Float32Array; parameters: Parameters; png: string; stderr: string }> {
    const png = join(output, `${name}.png`);
    const latents = join(output, `${name}.safetensors`);
    const result = await runCli(["generate", prompt, "--model", wideModel, "--negative", negative, ...sizeArgs, ...flags, "-o", png, "--output-latents", latents]);
    assert.equal(result.exitCode, 0, result.stderr);
    const parameters = JSON.parse(readPngText(readFileSync(png))["nucleus-image"]!) as Parameters;
    return { latents: toFloat32(readSafetensors(latents).tensors.get("latents")!), parameters, png, stderr: result.stderr };
  }

  async function encode(name: string, flags: string[]): Promise<Float32Array> {
    const file = join(output, `embeds-${name}.safetensors`);
    const result = await runCli(["encode", prompt, "--model", wideModel, "--dtype", "float32", ...flags, "-o", file]);
    assert.equal(result.exitCode, 0, result.stderr);
    return toFloat32(readSafetensors(file).tensors.get("prompt_embeds")!);
  }

  let float32Latents: Float32Array;

  test("float32: a text prompt with --negative TEXT and CFG gives diffusers' latents and image", async () => {
    const expected = pipeline.values("output_latents_fp32");
    const { latents, parameters, png } = await generate("float32", ["--dtype", "float32"]);
    float32Latents = latents;
    assert.ok(maxAbsDifference(latents, expected) <= 1e-4 * rms(expected), `latents differ by ${maxAbsDifference(latents, expected)}`);
    assert.equal(parameters.negative_prompt, negative);
    const image = await decodePng(readFileSync(png));
    const theirs = pipeline.file.tensors.get("image_uint8_fp32")!.data;
    assert.ok(image.data.every((value, i) => Math.abs(value - theirs[i]!) <= 1), "pixels differ by more than one level");
  });

  test("bfloat16: within 1.5 × the floor (diffusers' bf16 run against its float32 run) of diffusers' bf16 run", async (t) => {
    const floor = pipeline.number("floor_latents_rms");
    const bf16 = pipeline.values("output_latents_bf16");
    const { latents, parameters, png } = await generate("bfloat16", ["--dtype", "bfloat16"]);
    const distance = rmsDistance(latents, bf16);
    t.diagnostic(`bf16 latents: RMS ${distance} from diffusers' bf16 run, floor ${floor}, ratio ${distance / floor}`);
    assert.ok(distance <= 1.5 * floor, `RMS ${distance} from diffusers' bf16 latents; floor ${floor} (ratio ${distance / floor})`);
    const image = (await decodePng(readFileSync(png))).data;
    const imageFloor = pipeline.number("floor_image_rms");
    const imageDistance = rmsDistance(image, pipeline.file.tensors.get("image_uint8_bf16")!.data);
    t.diagnostic(`bf16 image: RMS ${imageDistance} levels from diffusers' bf16 image, floor ${imageFloor}, ratio ${imageDistance / imageFloor}`);
    assert.ok(imageDistance <= 1.5 * imageFloor, `image RMS ${imageDistance} levels from diffusers' bf16 image; floor ${imageFloor}`);
    if (backend === "cpu") {
      // The CPU engine keeps the bf16 weights and computes in float32: the float32 run's numbers.
      assert.equal(parameters.dtype, "float32");
      const float32 = pipeline.values("output_latents_fp32");
      assert.ok(maxAbsDifference(latents, float32) <= 1e-4 * rms(float32), "the CPU's bf16-weights run is not the float32 run");
    } else {
      assert.equal(parameters.dtype, "bfloat16");
    }
  });

  test("--quantize 8 and 4 (group 64): reported, within their bounds of diffusers' float32 latents, 4-bit well above 8-bit", async (t) => {
    const expected = pipeline.values("output_latents_fp32");
    const deviations: number[] = [];
    for (const bits of [8, 4]) {
      const { latents, parameters } = await generate(`q${bits}`, ["--quantize", String(bits)]);
      assert.equal(parameters.quantization, `${bits}-bit linears (group 64), ${bits}-bit experts (group 64)`);
      deviations.push(rmsDistance(latents, expected) / rms(expected));
    }
    t.diagnostic(`--quantize: relative RMS deviation 8-bit ${deviations[0]}, 4-bit ${deviations[1]}`);
    QUANTIZED_BOUNDS.check(deviations[0]!, deviations[1]!, "transformer");
  });

  test("--text-quantize 8 and 4 (group 64): encode within their bounds of transformers' float32 embeddings; generate records it", async (t) => {
    const expected = pipeline.values("prompt_embeds_fp32");
    const deviations: number[] = [];
    for (const bits of [8, 4]) {
      const embeds = await encode(`text-q${bits}`, ["--text-quantize", String(bits)]);
      deviations.push(rmsDistance(embeds, expected) / rms(expected));
    }
    t.diagnostic(`--text-quantize: relative RMS deviation 8-bit ${deviations[0]}, 4-bit ${deviations[1]}`);
    QUANTIZED_BOUNDS.check(deviations[0]!, deviations[1]!, "text encoder");
    const { parameters } = await generate("text-q8", ["--text-quantize", "8"]);
    assert.equal(parameters.text_encoder_quantization, "8-bit linears (group 64)");
    assert.equal(parameters.quantization, "none");
  });

  test("encode --system-prompt TEXT and --no-system-prompt give encode_prompt's embeddings with that system message and with none", async () => {
    const system = text.text("system_prompt");
    const custom = await encode("system", ["--system-prompt", system]);
    const customExpected = text.values("system_prompt_embeds");
    assert.ok(maxAbsDifference(custom, customExpected) <= 1e-4 * rms(customExpected), "--system-prompt");
    const none = await encode("no-system", ["--no-system-prompt"]);
    const noneExpected = text.values("no_system_prompt_embeds");
    assert.ok(maxAbsDifference(none, noneExpected) <= 1e-4 * rms(noneExpected), "--no-system-prompt");
    // generate takes the same flags and records them.
    const { parameters } = await generate("system", ["--system-prompt", system, "--steps", "1"]);
    assert.equal(parameters.system_prompt, system);
    const { parameters: bare } = await generate("no-system", ["--no-system-prompt", "--steps", "1"]);
    assert.equal(bare.system_prompt, null);
  });

  test("encode --hidden-layer N gives that hidden state (negative and positive indices)", async () => {
    for (const index of [-3, 4]) {
      const ours = await encode(`hidden${index}`, ["--hidden-layer", String(index)]);
      const expected = text.values(`hidden_${index}`);
      assert.ok(maxAbsDifference(ours, expected) <= 1e-4 * rms(expected), `hidden layer ${index}: ${maxAbsDifference(ours, expected)}`);
    }
  });

  test("--low-memory: the text encoder is loaded alone first, then the transformer; the same latents as a normal run", async () => {
    const { latents, stderr } = await generate("low-memory", ["--dtype", "float32", "--low-memory"]);
    const order = [...stderr.matchAll(/^loading (transformer|vae|text_encoder)…$/gm)].map((match) => match[1]);
    assert.deepEqual(order, ["text_encoder", "transformer", "vae"], stderr);
    assert.deepEqual(latents, float32Latents);
  });

  test("without -o and --seed: nucleus-<seed>.png in the current folder, the random seed recorded and reproducible", async () => {
    const folder = mkdtempSync(join(output, "default-name-"));
    const args = ["generate", prompt, "--model", wideModel, "--steps", "1", "--cfg", "1", "--width", "32", "--height", "32", "-q"];
    const first = await runCli(args, { cwd: folder });
    assert.equal(first.exitCode, 0, first.stderr);
    const [name, ...others] = readdirSync(folder);
    assert.deepEqual(others, []);
    const seed = Number(/^nucleus-(\d+)\.png$/.exec(name!)?.[1]);
    assert.ok(Number.isInteger(seed), `unexpected file name ${name}`);
    const parameters = JSON.parse(readPngText(readFileSync(join(folder, name!)))["nucleus-image"]!) as Parameters;
    assert.equal(parameters.seed, seed);
    const again = await runCli([...args, "--seed", String(seed), "-o", "again.png"], { cwd: folder });
    assert.equal(again.exitCode, 0, again.stderr);
    const [a, b] = await Promise.all([name!, "again.png"].map(async (file) => decodePng(readFileSync(join(folder, file)))));
    assert.deepEqual(b!.data, a!.data);
  });
});
