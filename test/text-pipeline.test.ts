// Text prompts end to end against diffusers' NucleusMoEImagePipeline with a tiny Qwen3-VL text encoder
// (tools/reference/make_pipeline_fixtures.py, text_prompt_case): `encode` against encode_prompt, `generate "PROMPT"`
// against the pipeline's latents and image, the library API, low-memory mode and bad input.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { decodePng, readPngText } from "../orchestrator/src/image/png.js";
import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { maxAbsDifference, rms } from "./helpers/dit-fixtures.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { pipelineFixtures, tinyModel } from "./helpers/pipeline-fixtures.js";
import { textModelFolder } from "./helpers/processor.js";

const cli = join(repoRoot, "dist", "orchestrator", "src", "cli", "main.js");
const reference = readSafetensors(join(pipelineFixtures, "text-prompt.safetensors"));
const expected = (key: string) => toFloat32(reference.tensors.get(key)!);
const prompt = reference.metadata.prompt!;
const [width, height, seed, steps, cfg] = ["width", "height", "seed", "steps", "guidance_scale"].map((key) => Number(reference.metadata[key]));

/** fp32 bound: max abs error ≤ 1e-4 × RMS of the reference. */
function assertClose(ours: Float32Array, theirs: Float32Array, what: string): void {
  assert.equal(ours.length, theirs.length, `${what}: ${ours.length} values, expected ${theirs.length}`);
  assert.ok(maxAbsDifference(ours, theirs) <= 1e-4 * rms(theirs), `${what}: max error ${maxAbsDifference(ours, theirs)}, RMS ${rms(theirs)}`);
}

/** uint8 pixels may differ by one level where the float value sits on a rounding boundary; almost none may. */
function assertImageClose(data: Buffer, what: string): void {
  const theirs = reference.tensors.get("image_uint8")!.data;
  assert.equal(data.length, theirs.length, what);
  let differing = 0;
  for (let i = 0; i < data.length; i++) {
    const difference = Math.abs(data[i]! - theirs[i]!);
    assert.ok(difference <= 1, `${what}: byte ${i} differs by ${difference}`);
    if (difference) differing++;
  }
  assert.ok(differing <= data.length * 0.001, `${what}: ${differing} bytes differ`);
}

describe("text prompts through the CLI", () => {
  let model: string;
  let output: string;
  before(() => {
    model = textModelFolder(tinyModel);
    output = mkdtempSync(join(tmpdir(), "nucleus-text-out-"));
  });
  after(() => {
    rmSync(model, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  const run = (command: string, args: string[], options: { reject?: boolean; model?: string } = {}) =>
    execa(process.execPath, [cli, command, "--model", options.model ?? model, ...args], { reject: options.reject ?? true });
  const sizeArgs = () => ["--seed", String(seed), "--steps", String(steps), "--cfg", String(cfg), "--width", String(width), "--height", String(height)];

  test("encode writes what encode_prompt returns: the prompt and the empty negative", async () => {
    const positive = join(output, "apple.safetensors");
    const result = await run("encode", [prompt, "--dtype", "float32", "-o", positive]);
    assert.match(result.stdout, /wrote .*apple\.safetensors \(prompt_embeds \[1, 72, 8\] F32, 72 real tokens\)/);
    const file = readSafetensors(positive);
    assert.deepEqual(file.tensors.get("prompt_embeds")!.shape, [1, 72, 8]);
    assertClose(toFloat32(file.tensors.get("prompt_embeds")!), expected("prompt_embeds"), "prompt_embeds");
    const mask = file.tensors.get("prompt_embeds_mask")!;
    assert.equal(mask.dtype, "I64");
    assert.deepEqual(Array.from(toFloat32(mask)), new Array(72).fill(1));
    assert.equal(file.metadata.prompt, prompt);

    const negative = join(output, "empty.safetensors");
    await run("encode", ["", "--dtype", "float32", "-o", negative]);
    const empty = readSafetensors(negative);
    assertClose(toFloat32(empty.tensors.get("prompt_embeds")!), expected("negative_prompt_embeds"), "negative_prompt_embeds");
    assert.deepEqual(Array.from(toFloat32(empty.tensors.get("prompt_embeds_mask")!)), Array.from(expected("negative_prompt_embeds_mask")));

    const refused = await run("encode", [prompt, "-o", positive], { reject: false });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /already exists: choose another output path or pass --force/);
  });

  test('generate "PROMPT" gives the pipeline\'s latents and image; its embeddings from encode give the same', async () => {
    const png = join(output, "apple.png");
    const latents = join(output, "apple-latents.safetensors");
    const result = await run("generate", [prompt, ...sizeArgs(), "--dtype", "float32", "-o", png, "--output-latents", latents]);
    assert.match(result.stdout, /wrote .*apple\.png \(80×48, 3 steps, cfg 3\.5, seed 1234\)/);
    assertClose(toFloat32(readSafetensors(latents).tensors.get("latents")!), expected("output_latents"), "latents");
    assertImageClose((await decodePng(readFileSync(png))).data, "image");

    const metadata = JSON.parse(readPngText(readFileSync(png))["nucleus-image"]!) as Record<string, unknown>;
    assert.equal(metadata.prompt, prompt);
    assert.equal(metadata.negative_prompt, "");
    assert.equal(metadata.text_encoder_quantization, "none");
    assert.match(readPngText(readFileSync(png)).parameters!, new RegExp(`^${prompt}\nNegative prompt: \nSteps: 3`));

    const fromEmbeds = join(output, "apple-embeds-latents.safetensors");
    await run("generate", [
      "--prompt-embeds", join(output, "apple.safetensors"), "--negative-embeds", join(output, "empty.safetensors"), ...sizeArgs(),
      "--dtype", "float32", "-o", join(output, "apple-embeds.png"), "--output-latents", fromEmbeds,
    ]);
    assert.deepEqual(readSafetensors(fromEmbeds).tensors.get("latents")!.data, readSafetensors(latents).tensors.get("latents")!.data);
  });

  test("an over-long prompt is truncated to 1024 tokens with a warning; an empty prompt is a usage error", async () => {
    const long = join(output, "long.png");
    const result = await run("generate", [Array(1100).fill("apple").join(" "), "--steps", "1", "--cfg", "1", "--width", "16", "--height", "16", "--seed", "1", "-o", long]);
    assert.match(result.stderr, /warning: the prompt is \d+ tokens long with its chat template; only 1024 are used \(\d+ dropped\): shorten it/);
    assert.ok(existsSync(long));
    const empty = join(output, "empty.png");
    const refused = await run("generate", [" ", "--steps", "1", "--cfg", "1", "--width", "16", "--height", "16", "--seed", "1", "-o", empty], { reject: false });
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /^nucleus-image: error: prompt is empty: give a text prompt/);
    assert.ok(!existsSync(empty));
  });

  test("bad input is a clear error and writes nothing", async () => {
    const target = join(output, "never.png");
    const embeds = join(output, "never.safetensors");
    const withoutEncoder = mkdtempSync(join(tmpdir(), "nucleus-no-encoder-"));
    for (const entry of readdirSync(model)) if (entry !== "text_encoder") symlinkSync(join(model, entry), join(withoutEncoder, entry));
    const brokenTokenizer = mkdtempSync(join(tmpdir(), "nucleus-broken-tokenizer-"));
    for (const entry of readdirSync(model)) if (entry !== "processor") symlinkSync(join(model, entry), join(brokenTokenizer, entry));
    mkdirSync(join(brokenTokenizer, "processor"));
    writeFileSync(join(brokenTokenizer, "processor", "tokenizer.json"), '{"version": "1.0", "trunc');
    try {
      // Exit code 2 for a wrong command line, 1 for what is found wrong in the files or the engine.
      const cases: [string, string[], RegExp, number, string?][] = [
        ["generate", [prompt, "-o", target], /processor\/tokenizer\.json is missing: text prompts need the model's processor\/ folder/, 1, tinyModel],
        ["encode", [prompt, "-o", embeds], /processor\/tokenizer\.json is missing/, 1, tinyModel],
        ["generate", [prompt, "-o", target], /has no text_encoder\/: give prompt embeddings \(--prompt-embeds\) instead of text/, 1, withoutEncoder],
        ["generate", [prompt, "-o", target], /tokenizer\.json is not valid JSON/, 1, brokenTokenizer],
        ["generate", [prompt, "--prompt-embeds", join(output, "apple.safetensors"), "-o", target], /either a text prompt or --prompt-embeds, not both/, 2],
        ["generate", ["-o", target], /give a prompt, e\.g\. nucleus-image generate "A red apple on a white table"/, 2],
        ["generate", [prompt, "--negative", "x", "--negative-embeds", join(output, "empty.safetensors"), "-o", target], /either --negative or --negative-embeds/, 2],
        ["encode", [prompt, "--hidden-layer", "40", "-o", embeds], /hidden layer 40 does not exist: the text encoder has 10 hidden states/, 1],
        ["encode", [prompt, "--hidden-layer", "0", "-o", embeds], /--hidden-layer must be a nonzero whole number/, 2],
        ["encode", [prompt, "--text-quantize", "3", "-o", embeds], /--text-quantize must be 8 or 4/, 2],
      ];
      for (const [command, args, message, code, folder] of cases) {
        const result = await run(command, args, { reject: false, model: folder });
        assert.equal(result.exitCode, code, `${command} ${args.join(" ")}\n${result.stderr}`);
        assert.match(result.stderr, message);
        assert.equal(existsSync(target) || existsSync(embeds), false);
      }
    } finally {
      rmSync(withoutEncoder, { recursive: true, force: true });
      rmSync(brokenTokenizer, { recursive: true, force: true });
    }
  });
});

describe("text prompts through the library", () => {
  let model: string;
  before(() => {
    model = textModelFolder(tinyModel);
  });
  after(() => {
    rmSync(model, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });
  const request = { prompt, width, height, steps, cfg, seed };

  test("generate from text is deterministic for a seed and matches the pipeline; encode matches encode_prompt", async () => {
    const nucleus = await NucleusImage.load(model, { load: { dtype: DType.DTYPE_FLOAT32 } });
    try {
      assert.equal(nucleus.acceptsText, true);
      const first = await nucleus.generate(request);
      const second = await nucleus.generate(request);
      assert.deepEqual(second.image.data, first.image.data);
      assertClose(first.latents, expected("output_latents"), "latents");
      assertImageClose(first.image.data, "image");
      const other = await nucleus.generate({ ...request, seed: seed + 1 });
      assert.notDeepEqual(other.image.data, first.image.data);

      const encoded = await nucleus.encode(prompt);
      assert.deepEqual(encoded.embedding.shape, [72, 8]);
      assertClose(toFloat32(encoded.embedding), expected("prompt_embeds"), "encode");
      assert.equal(encoded.tokens.truncatedTokens, 0);
      const warnings: string[] = [];
      await nucleus.encode(Array(1100).fill("apple").join(" "), { onWarning: (message) => warnings.push(message) });
      assert.equal(warnings.length, 1);
    } finally {
      await nucleus.close();
    }
  });

  test("low-memory mode: the text encoder and the transformer are never resident together; encoded prompts are reused", async () => {
    const loads: string[] = [];
    const nucleus = await NucleusImage.load(model, {
      load: { dtype: DType.DTYPE_FLOAT32 }, lowMemory: true,
      onLoadProgress: (progress) => loads.at(-1) !== progress.component && loads.push(progress.component),
    });
    const loaded = async () => (await nucleus.client.getInfo()).loadedComponents.map((component) => component.name).sort();
    try {
      assert.deepEqual(await loaded(), ["text_encoder"], "low-memory mode starts with the text encoder alone");
      const during: Promise<string[]>[] = [];
      const first = await nucleus.generate(request, { onProgress: () => during.push(loaded()) });
      for (const components of await Promise.all(during)) assert.deepEqual(components, ["transformer", "vae"]);
      assert.deepEqual(loads, ["text_encoder", "transformer", "vae"]);
      assertClose(first.latents, expected("output_latents"), "latents");

      const second = await nucleus.generate(request);
      assert.deepEqual(second.image.data, first.image.data);
      assert.deepEqual(loads, ["text_encoder", "transformer", "vae"], "the same prompt needs no text encoder again");

      await nucleus.generate({ ...request, prompt: "A green pear", steps: 1 });
      assert.deepEqual(loads, ["text_encoder", "transformer", "vae", "text_encoder", "transformer", "vae"]);
      assert.deepEqual(await loaded(), ["transformer", "vae"]);
    } finally {
      await nucleus.close();
    }
  });

  test("a model loaded without its text encoder or tokenizer says so when given text", async () => {
    const nucleus = await NucleusImage.load(model, { load: { components: ["transformer", "vae"] } });
    try {
      assert.equal(nucleus.acceptsText, false);
      await assert.rejects(nucleus.generate({ ...request, cfg: 1 }), /the text encoder was not loaded/);
    } finally {
      await nucleus.close();
    }
    // Without tokenizer.json the model still loads for prompt embeddings; text names the missing file.
    const withoutTokenizer = await NucleusImage.load(tinyModel);
    try {
      assert.equal(withoutTokenizer.acceptsText, false);
      assert.deepEqual(withoutTokenizer.summary.components.map((component) => component.name).sort(), ["transformer", "vae"]);
      await assert.rejects(withoutTokenizer.generate({ ...request, cfg: 1 }), /processor\/tokenizer\.json is missing/);
    } finally {
      await withoutTokenizer.close();
    }
  });
});
