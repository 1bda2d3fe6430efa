// `nucleus-image convert`: a pre-quantized copy that loads with no flags and gives bit-identical latents to
// quantizing at load; atomic output, no clobbering, nothing left behind on failure.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { readPromptEmbedding } from "../orchestrator/src/pipeline/inputs.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

const cli = join(repoRoot, "dist", "orchestrator", "src", "cli", "main.js");
const convert = (args: string[]) => execa(process.execPath, [cli, "convert", ...args], { reject: false });

describe("convert", () => {
  let fixture: PipelineCase;
  let work: string;
  before(() => {
    fixture = pipelineCase();
    work = mkdtempSync(join(tmpdir(), "nucleus-convert-"));
  });
  after(() => {
    rmSync(fixture.directory, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  async function latents(model: NucleusImage): Promise<Buffer> {
    const prompt = readPromptEmbedding(fixture.promptFile, model.folder.textWidth);
    const result = await model.generate({ prompt, width: 64, height: 64, steps: 2, cfg: 1, seed: 7 });
    return Buffer.from(result.latents.buffer, result.latents.byteOffset, result.latents.byteLength);
  }

  test("the copy records its quantization, links what it does not convert, and generates bit-identical latents", async () => {
    const target = join(work, "nested", "q4");
    const result = await convert([tinyModel, target, "--quantize", "4", "--group-size", "32"]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /transformer: 4-bit linears \(group 32\), 4-bit experts \(group 32\)/);
    const config = JSON.parse(readFileSync(join(target, "transformer", "config.json"), "utf8"));
    assert.deepEqual(config.quantization, {
      experts: { bits: 4, group_size: 32 }, format: "mlx-affine", linear: { bits: 4, group_size: 32 },
    });
    const sourceVae = readdirSync(join(tinyModel, "vae")).find((name) => name.endsWith(".safetensors"))!;
    assert.equal(statSync(join(target, "vae", sourceVae)).ino, statSync(join(tinyModel, "vae", sourceVae)).ino, "hard-linked");
    assert.deepEqual(readdirSync(join(work, "nested")), ["q4"], "no staging folder left beside it");

    const quantization = { bits: 4, groupSize: 32 };
    const atLoad = await NucleusImage.load(tinyModel, { load: { components: ["transformer", "vae"], transformer: quantization, experts: quantization } });
    const preQuantized = await NucleusImage.load(target, { load: { components: ["transformer", "vae"] } });
    const dense = await NucleusImage.load(tinyModel, { load: { components: ["transformer", "vae"] } });
    try {
      assert.match(preQuantized.summary.components.find((c) => c.name === "transformer")!.quantization, /4-bit experts \(group 32\)/);
      const expected = await latents(atLoad);
      assert.ok(expected.equals(await latents(preQuantized)), "pre-quantized latents differ from quantize-at-load");
      assert.ok(!expected.equals(await latents(dense)), "quantization changed nothing");
    } finally {
      await Promise.all([atLoad.close(), preQuantized.close(), dense.close()]);
    }
  });

  test("an existing target is refused without --force and replaced with it; stale staging folders are cleaned", async () => {
    const target = join(work, "twice");
    assert.equal((await convert([tinyModel, target, "--quantize", "8", "--group-size", "32"])).exitCode, 0);
    const refused = await convert([tinyModel, target, "--quantize", "4", "--group-size", "32"]);
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /already exists.*--force/);
    const stale = join(work, ".twice.partial-999999999-1");
    mkdirSync(stale);
    const forced = await convert([tinyModel, target, "--quantize", "4", "--group-size", "32", "--force"]);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.equal(JSON.parse(readFileSync(join(target, "transformer", "config.json"), "utf8")).quantization.experts.bits, 4);
    assert.equal(existsSync(stale), false, "a dead process's staging folder is removed");
    assert.deepEqual(readdirSync(work).filter((name) => name.startsWith(".")), []);
  });

  test("a conversion that cannot be done fails before writing anything", async () => {
    const target = join(work, "never");
    const failed = await convert([tinyModel, target, "--quantize", "4", "--text-quantize", "8", "--group-size", "32"]);
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stderr, /text_encoder: no tensor can be quantized/);
    assert.equal(existsSync(target), false);
    const missing = await convert([join(work, "nowhere"), join(work, "x"), "--quantize", "4"]);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /does not exist/);
    const usage = await convert([tinyModel, join(work, "y"), "--quantize", "5"]);
    assert.notEqual(usage.exitCode, 0);
    assert.match(usage.stderr, /--quantize must be 8 or 4/);
    assert.deepEqual(readdirSync(work).filter((name) => name.startsWith(".")), []);
  });
});
