// What a model needs before it is loaded: InspectModel's counts against the checkpoint's own headers, the memory
// check that refuses a load that cannot fit (before any weight is read) with choices that would, Unload, and
// `nucleus-image info`.
import assert from "node:assert/strict";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { NotEnoughMemoryError, suggestedPlans } from "../orchestrator/src/pipeline/memory-check.js";
import { readPromptEmbedding } from "../orchestrator/src/pipeline/inputs.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

const cli = join(repoRoot, "dist", "orchestrator", "src", "cli", "main.js");

/** Elements and bytes of the tensors in a component folder whose names pass `keep`, from the files' headers. */
function counted(component: string, keep: (key: string) => boolean): { elements: number; bytes: number } {
  let elements = 0;
  let bytes = 0;
  const folder = join(tinyModel, component);
  for (const file of readdirSync(folder).filter((name) => name.endsWith(".safetensors"))) {
    for (const [key, tensor] of readSafetensors(join(folder, file)).tensors) {
      if (!keep(key)) continue;
      elements += tensor.shape.reduce((a, b) => a * b, 1);
      bytes += tensor.data.length;
    }
  }
  return { elements, bytes };
}

describe("suggested ways of loading", () => {
  test("best quality first, and each further one needs less memory than all before it", () => {
    const GiB = 2 ** 30;
    const plan = (transformerBits: number, textBits: number, lowMemory: boolean, peakGiB: number) => ({
      requested: false, fits: true, lowMemory, peakBytes: String(peakGiB * GiB),
      transformer: transformerBits ? { bits: transformerBits, groupSize: 64 } : undefined,
      textEncoder: textBits ? { bits: textBits, groupSize: 64 } : undefined,
    }) as unknown as Parameters<typeof suggestedPlans>[0][number];
    // The full model at 256² on 18.8 GiB: in low-memory mode the text encoder's bits change nothing.
    const fitting = [
      plan(4, 4, true, 10.9), plan(8, 8, true, 18.1), plan(4, 0, true, 10.9), plan(8, 0, true, 18.1),
      plan(8, 4, true, 18.1), plan(4, 8, false, 16.8), plan(4, 8, true, 10.9),
    ];
    const flags = (chosen: ReturnType<typeof suggestedPlans>) =>
      chosen.map((p) => [p.transformer?.bits ?? 0, p.textEncoder?.bits ?? 0, p.lowMemory, Number(p.peakBytes) / GiB]);
    // Quality order: 8-bit low-memory, then 4-bit low-memory (the text encoder kept exact beats keeping both resident
    // with an 8-bit text encoder); everything after those saves no memory.
    assert.deepEqual(flags(suggestedPlans(fitting)), [[8, 0, true, 18.1], [4, 0, true, 10.9]]);
    assert.deepEqual(flags(suggestedPlans(fitting, 1)), [[8, 0, true, 18.1]]);
    assert.deepEqual(suggestedPlans([]), []);
  });
});

describe("memory planning", () => {
  let engine: LocalEngine;
  let fixture: PipelineCase;
  before(async () => {
    engine = await LocalEngine.start();
    fixture = pipelineCase();
  });
  after(async () => {
    await engine.stop();
    rmSync(fixture.directory, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("InspectModel counts what the headers hold, reads no weights and plans every way of loading", async () => {
    const inspection = await engine.client.inspectModel(tinyModel, {}, { width: 64, height: 64 });
    const byName = new Map(inspection.components.map((component) => [component.name, component]));
    const transformer = counted("transformer", (key) => !key.endsWith("norm_added_q.weight"));
    assert.equal(byName.get("transformer")!.parameterCount, transformer.elements);
    assert.equal(byName.get("transformer")!.checkpointParameterCount, counted("transformer", () => true).elements);
    assert.equal(byName.get("transformer")!.residentBytes, transformer.bytes, "float32 checkpoint, stored as it is");
    const decoder = counted("vae", (key) => (key.startsWith("decoder.") || key.startsWith("post_quant_conv.")) && !key.includes("time_conv"));
    assert.equal(byName.get("vae")!.parameterCount, decoder.elements);
    assert.equal(byName.get("vae")!.checkpointParameterCount, counted("vae", () => true).elements);
    assert.equal((await engine.client.getInfo()).loadedComponents.length, 0, "nothing was loaded");
    assert.ok(inspection.plans.some((plan) => plan.requested));
    const peak = (bits: number, low: boolean) =>
      Number(inspection.plans.find((plan) => !plan.requested && (plan.transformer?.bits ?? 0) === bits && !plan.textEncoder && plan.lowMemory === low)!.peakBytes);
    assert.ok(peak(4, false) < peak(8, false) && peak(8, false) < peak(0, false), "fewer bits, less memory");
    assert.ok(peak(0, true) <= peak(0, false));
  });

  test("a load that cannot fit is refused before any weight is read, naming choices that fit", async () => {
    // The tiny model has no tokenizer, so the library loads it for prompt embeddings: transformer and VAE.
    const inspection = await engine.client.inspectModel(tinyModel, { components: ["transformer", "vae"] }, { width: 64, height: 64 });
    const requested = Number(inspection.plans.find((plan) => plan.requested)!.peakBytes);
    const smallest = Math.min(...inspection.plans.map((plan) => Number(plan.peakBytes)));
    assert.ok(smallest < requested);
    const limit = Math.floor((smallest + requested) / 2);
    const loading = NucleusImage.load(tinyModel, { load: { memoryLimitBytes: limit }, plannedSize: { width: 64, height: 64 } });
    loading.then((model) => model.close(), () => undefined);
    await assert.rejects(
      loading,
      (error: unknown) => {
        assert.ok(error instanceof NotEnoughMemoryError, String(error));
        assert.equal(error.neededBytes, requested);
        assert.ok(error.fitting.length > 0 && error.fitting.every((plan) => Number(plan.peakBytes) <= limit));
        assert.match(error.message, /needs about .* but the engine may use .*: try (--quantize|--text-quantize|--low-memory)/);
        return true;
      },
    );
  });

  test("low-memory mode decodes with the transformer unloaded when the decode would not fit beside it", async () => {
    const size = { width: 64, height: 64 };
    const options = { components: ["transformer", "vae"], unloadTextEncoderAfterEncode: true };
    const roomy = (await engine.client.inspectModel(tinyModel, options, size)).plans.find((plan) => plan.requested)!;
    assert.equal(roomy.decodeAlone, false);
    // Just too little for the decode beside the transformer (the decode's working memory is this model's largest).
    const limit = Number(roomy.peakBytes) - 1;
    const tight = (await engine.client.inspectModel(tinyModel, { ...options, memoryLimitBytes: limit }, size)).plans.find((plan) => plan.requested)!;
    assert.equal(tight.decodeAlone, true);
    assert.ok(tight.fits && Number(tight.peakBytes) <= limit);

    const loads: string[] = [];
    const model = await NucleusImage.load(tinyModel, {
      load: { memoryLimitBytes: limit }, lowMemory: true, plannedSize: size,
      onLoadProgress: (progress) => loads.at(-1) !== progress.component && loads.push(progress.component),
    });
    const reference = await NucleusImage.load(tinyModel, { plannedSize: size });
    try {
      const prompt = readPromptEmbedding(fixture.promptFile, model.folder.textWidth);
      const request = { prompt, ...size, steps: 2, cfg: 1, seed: 5 };
      const first = await model.generate(request);
      assert.deepEqual((await model.client.getInfo()).loadedComponents.map((c) => c.name), ["vae"], "decoded alone");
      await model.generate(request);
      assert.deepEqual(loads, ["transformer", "vae", "transformer"], "the transformer comes back for the next image");
      assert.ok(first.image.data.equals((await reference.generate(request)).image.data), "same image as with both resident");
    } finally {
      await Promise.all([model.close(), reference.close()]);
    }
  });

  test("Unload drops the components named and reports what stays", async () => {
    await engine.client.loadModel(tinyModel, { components: ["transformer", "vae"] });
    const response = await engine.client.unload(["transformer"]);
    assert.deepEqual(response.loadedComponents.map((component) => component.name), ["vae"]);
    assert.ok(Number(response.freedBytes) > 0);
    assert.deepEqual((await engine.client.getInfo()).loadedComponents.map((component) => component.name), ["vae"]);
    await assert.rejects(engine.client.unload(["unet"]), /unknown component 'unet'/);
    await engine.client.unload();
    assert.equal((await engine.client.getInfo()).loadedComponents.length, 0);
  });

  test("nucleus-image info prints the components and the memory table; --json the numbers", async () => {
    const text = await execa(process.execPath, [cli, "info", tinyModel, "--width", "64", "--height", "64"]);
    assert.match(text.stdout, /transformer .* float32 .*none/);
    assert.match(text.stdout, /--quantize 4 --text-quantize 8 .* fits/);
    const json = JSON.parse((await execa(process.execPath, [cli, "info", tinyModel, "--json"])).stdout);
    assert.deepEqual(json.components.map((component: { name: string }) => component.name), ["transformer", "vae", "text_encoder"]);
    const missing = await execa(process.execPath, [cli, "info", join(tinyModel, "nowhere")], { reject: false });
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /does not exist/);
  });
});
