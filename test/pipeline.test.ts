// The whole pipeline against diffusers' NucleusMoEImagePipeline (tiny checkpoint, 4 steps, CFG 3.5, 80×48),
// through the CLI and through the library; metadata, bad input and cancellation.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { decodePng, readPngText } from "../orchestrator/src/image/png.js";
import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { GenerationCancelledError } from "../orchestrator/src/pipeline/generate.js";
import { readPromptEmbedding } from "../orchestrator/src/pipeline/inputs.js";
import { toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { longRun } from "./helpers/cli.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { maxAbsDifference, rms } from "./helpers/dit-fixtures.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

const cli = join(repoRoot, "dist", "orchestrator", "src", "cli", "main.js");

describe("generate against diffusers' pipeline", () => {
  let fixture: PipelineCase;
  let output: string;
  before(() => {
    fixture = pipelineCase();
    output = mkdtempSync(join(tmpdir(), "nucleus-out-"));
  });
  after(() => {
    rmSync(fixture.directory, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  const run = (args: string[], options: { reject?: boolean } = {}) =>
    execa(process.execPath, [cli, "generate", "--model", tinyModel, ...args], { reject: options.reject ?? true });
  const fromFixture = () => [
    "--prompt-embeds", fixture.promptFile, "--negative-embeds", fixture.negativeFile, "--latents", fixture.latentsFile,
    "--steps", "4", "--cfg", "3.5", "--width", String(fixture.width), "--height", String(fixture.height),
  ];

  test("--output-latents equals output_type='latent' and the PNG equals the pipeline's image", async () => {
    const png = join(output, "image.png");
    const latentsPath = join(output, "latents.safetensors");
    const result = await run([...fromFixture(), "-o", png, "--output-latents", latentsPath]);
    assert.match(result.stdout, /wrote .*image\.png \(80×48, 4 steps, cfg 3\.5\)/);

    const ours = toFloat32(readSafetensors(latentsPath).tensors.get("latents")!);
    const expected = toFloat32(fixture.expectedLatents);
    // fp32: max error ≤ 1e-4 × RMS, as for one transformer forward (four steps of dt ≈ 0.25 add little).
    assert.ok(maxAbsDifference(ours, expected) <= 1e-4 * rms(expected), `latents differ by ${maxAbsDifference(ours, expected)}`);

    // uint8 pixels: the float images agree to ~1e-6, so a pixel can differ only where the value sits on a
    // rounding boundary; allow 1 level there and require almost all pixels to be identical.
    const image = await decodePng(readFileSync(png));
    assert.deepEqual([image.width, image.height], [fixture.width, fixture.height]);
    let differing = 0;
    for (let i = 0; i < image.data.length; i++) {
      const difference = Math.abs(image.data[i]! - fixture.expectedImage.data[i]!);
      assert.ok(difference <= 1, `pixel byte ${i} differs by ${difference}`);
      if (difference) differing++;
    }
    assert.ok(differing <= image.data.length * 0.001, `${differing} bytes differ`);
  });

  test("the PNG carries the parameters; --no-metadata writes none", async () => {
    const withMetadata = join(output, "meta.png");
    await run([...fromFixture(), "-o", withMetadata]);
    const text = readPngText(readFileSync(withMetadata));
    const parameters = JSON.parse(text["nucleus-image"]!) as Record<string, unknown>;
    assert.equal(parameters.steps, 4);
    assert.equal(parameters.cfg, 3.5);
    assert.equal(parameters.width, 80);
    assert.equal(parameters.height, 48);
    assert.equal(parameters.model, "tiny"); // the folder's name, not a path of the user's home
    assert.equal(parameters.quantization, "none");
    assert.equal(parameters.engine_version, "0.1.0");
    assert.equal(parameters.mlx_version, "0.32.4");
    assert.equal(parameters.latents, "latents.safetensors");
    assert.match(text.parameters!, /Steps: 4, Sampler: FlowMatchEulerDiscrete, CFG scale: 3\.5, Size: 80x48/);

    const bare = join(output, "bare.png");
    await run([...fromFixture(), "-o", bare, "--no-metadata"]);
    assert.deepEqual(readPngText(readFileSync(bare)), {});
  });

  test("the same seed gives the same image; the seed is recorded", async () => {
    const common = ["--prompt-embeds", fixture.promptFile, "--negative-embeds", fixture.negativeFile, "--steps", "3", "--width", "80", "--height", "48"];
    const a = join(output, "seed-a.png");
    const b = join(output, "seed-b.png");
    const c = join(output, "seed-c.png");
    await run([...common, "--seed", "1234", "-o", a]);
    await run([...common, "--seed", "1234", "-o", b]);
    await run([...common, "--seed", "1235", "-o", c]);
    const [imageA, imageB, imageC] = await Promise.all([a, b, c].map(async (path) => decodePng(readFileSync(path))));
    assert.deepEqual(imageA!.data, imageB!.data);
    assert.notDeepEqual(imageA!.data, imageC!.data);
    assert.equal((JSON.parse(readPngText(readFileSync(a))["nucleus-image"]!) as { seed: number }).seed, 1234);
  });

  test("bad input is a clear error and writes nothing", async () => {
    const target = join(output, "never.png");
    // Exit code 2 for a wrong command line, 1 for a problem found in files.
    const cases: [string[], RegExp, number][] = [
      [[...fromFixture().slice(0, -4), "--width", "88", "--height", "48", "-o", target], /--width must be a multiple of 16 from 16 to 4096/, 2],
      [[...fromFixture(), "--model", join(fixture.directory, "nowhere"), "-o", target], /does not exist/, 1],
      [["--prompt-embeds", join(fixture.directory, "missing.safetensors"), "--cfg", "1", "-o", target], /cannot read .*missing\.safetensors/, 1],
      [["--prompt-embeds", fixture.latentsFile, "--cfg", "1", "-o", target], /has no prompt_embeds tensor/, 1],
      [["--prompt-embeds", fixture.promptFile, "--steps", "2", "-o", target], /--cfg > 1 needs the unconditional branch: --negative-embeds FILE or --negative TEXT/, 2],
      [[...fromFixture().slice(0, -4), "--width", "96", "--height", "48", "-o", target], /latents have shape \[1,15,16\] but this size needs packed latents \[1, 18, 16\]/, 1],
      [[...fromFixture(), "-o", join(output, "never.gif")], /'\.gif' is not an image format we write; end it in \.png, \.jpg, \.jpeg, \.webp/, 2],
      [[...fromFixture(), "--seed", "1", "-o", target], /either --seed or --latents/, 2],
      [[...fromFixture(), "--stepz", "3", "-o", target], /^nucleus-image: error: unknown option '--stepz'\n\(Did you mean --steps\?\)/, 2],
    ];
    const garbage = join(fixture.directory, "garbage.safetensors");
    writeFileSync(garbage, "not a safetensors file at all");
    cases.push([["--prompt-embeds", garbage, "--cfg", "1", "-o", target], /garbage\.safetensors is not a valid safetensors file/, 1]);
    for (const [args, message, code] of cases) {
      const result = await run(args, { reject: false });
      assert.equal(result.exitCode, code, `${args.join(" ")}\n${result.stderr}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^nucleus-image: error: /);
      assert.doesNotMatch(result.stderr, /nucleus\.engine\.v1/);
      assert.equal(existsSync(target), false);
    }
    // A model folder without vae/ (the transformer alone) cannot make images.
    const noVae = await execa(process.execPath, [cli, "generate", "--model", join(repoRoot, "test", "fixtures", "dit", "tiny-a"), "--prompt-embeds", fixture.promptFile, "--cfg", "1", "-o", target], { reject: false });
    assert.match(noVae.stderr, /vae\/config\.json is missing: the model folder needs a vae\/ component/);
  });

  test("an existing output is not overwritten without --force", async () => {
    const existing = join(output, "existing.png");
    writeFileSync(existing, "precious");
    const refused = await run([...fromFixture(), "-o", existing], { reject: false });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /already exists: choose another output path or pass --force/);
    assert.equal(readFileSync(existing, "utf8"), "precious");
    await run([...fromFixture(), "-o", existing, "--force"]);
    assert.ok(statSync(existing).size > 100);
  });

  test("Ctrl-C stops after the current step: exit code 130, no file, no engine left", async () => {
    const target = join(output, "cancelled.png");
    const run = await longRun(["--model", tinyModel, "--prompt-embeds", fixture.promptFile, "--negative-embeds", fixture.negativeFile, "--width", "80", "--height", "48", "-o", target], 1);
    run.child.kill("SIGINT");
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /cancelled after \d+ step/);
    assert.equal(existsSync(target), false);
    assert.deepEqual(enginePids(), [], "the engine outlived the cancelled run");
  });
});

describe("the library API", () => {
  test("load once, generate twice deterministically, cancel with an AbortSignal, the engine stays healthy", async () => {
    const model = await NucleusImage.load(tinyModel);
    try {
      const files = pipelineCase();
      const prompt = readPromptEmbedding(files.promptFile, model.folder.textWidth);
      rmSync(files.directory, { recursive: true, force: true });
      const request = { prompt, width: 80, height: 48, steps: 3, cfg: 1, seed: 99 };
      const steps: number[] = [];
      const first = await model.generate(request, { onProgress: (progress) => steps.push(progress.step) });
      const second = await model.generate(request);
      assert.deepEqual(steps, [1, 2, 3]);
      assert.deepEqual(first.image.data, second.image.data);
      assert.deepEqual([first.image.width, first.image.height], [80, 48]);
      assert.ok(first.timings.denoiseComputeMs > 0);

      const abort = new AbortController();
      await assert.rejects(
        model.generate({ ...request, steps: 50 }, { signal: abort.signal, onProgress: (p) => p.step === 2 && abort.abort() }),
        (error: Error) => error instanceof GenerationCancelledError && error.completedSteps === 2,
      );
      assert.equal((await model.client.health()).serving, true);
      const png = await NucleusImage.png(first.image, { parameters: "library test" });
      assert.equal(readPngText(png).parameters, "library test");
    } finally {
      await model.close();
    }
    assert.deepEqual(enginePids(), []);
  });
});
