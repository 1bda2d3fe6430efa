// The image service against the ways without it, on the tiny and the mid-size model, side by side in one run:
// - 4 images: 4 separate `generate` runs (each starts an engine and loads), one `generate --count 4`, and a running
//   server (one job of 4, and `generate --server --count 4`, which adds a Node start);
// - the server path's overhead per image (gRPC, queue, PNG, events) against the library in-process, alternated;
// - the time from Cancel, or from the client going away, to the stream's end and to an idle server.
//   npm run setup:reference && node dist/bench/serve.js [--models tiny,mid] [--images 4] [--steps 4] [--repeats 3]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { execa } from "execa";

import { encodeImage } from "../orchestrator/src/image/encode.js";
import { metadataText } from "../orchestrator/src/image/metadata.js";
import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { ImagesConnection } from "../orchestrator/src/serve/images-client.js";
import { cliPath } from "../test/helpers/cli.js";
import { tinyModel } from "../test/helpers/pipeline-fixtures.js";
import { processorFolder, textModelFolder } from "../test/helpers/processor.js";
import { startServe } from "../test/helpers/serve.js";
import { argument, benchModels, median, numberArgument, referencePython, root, runReference } from "./support.js";

const models = (argument("--models") ?? "tiny,mid").split(",");
const images = numberArgument("--images", 4);
const steps = numberArgument("--steps", 4);
const repeats = numberArgument("--repeats", 3);
const prompt = "A red apple on a white table";

/** The mid-size bench pipeline (bench/generate.ts) with the mid-size text encoder (bench/text.ts) and a processor/. */
function midModel(): string {
  const python = () => referencePython();
  const ditDir = join(benchModels, "dit-mid");
  const pipelineDir = join(benchModels, "pipeline-mid");
  const textDir = join(benchModels, "text-mid");
  if (!existsSync(join(pipelineDir, "vae", "config.json"))) {
    if (!existsSync(join(ditDir, "transformer"))) {
      execFileSync(python(), [join(root, "bench", "reference", "diffusers_dit.py"), "make", "--preset", "mid", "--out", ditDir], { stdio: "inherit" });
    }
    execFileSync(python(), [join(root, "bench", "reference", "make_bench_pipeline.py"), "--transformer", join(ditDir, "transformer"), "--out", pipelineDir], { stdio: "inherit" });
  }
  if (!existsSync(join(textDir, "text_encoder", "config.json"))) {
    mkdirSync(textDir, { recursive: true });
    runReference("transformers_text.py", ["make", "--out", textDir]);
  }
  const folder = mkdtempSync(join(tmpdir(), "nucleus-serve-mid-"));
  for (const part of ["transformer", "vae", "scheduler"]) symlinkSync(join(pipelineDir, part), join(folder, part));
  symlinkSync(join(textDir, "text_encoder"), join(folder, "text_encoder"));
  mkdirSync(join(folder, "processor"));
  processorFolder(join(folder, "processor"));
  writeFileSync(join(folder, "model_index.json"), JSON.stringify({ _class_name: "NucleusMoEImagePipeline" }));
  return folder;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function wallMs(args: string[]): Promise<number> {
  const started = performance.now();
  await execa(process.execPath, [cliPath, ...args]);
  return performance.now() - started;
}

async function benchModel(name: string, folder: string, size: number): Promise<string[]> {
  const lines: string[] = [];
  const out = mkdtempSync(join(tmpdir(), "nucleus-serve-bench-"));
  const settings = ["--width", String(size), "--height", String(size), "--steps", String(steps), "-q"];
  const request = { prompt, width: size, height: size, steps };
  try {
    // 1. Without a server: a run per image, and one run for all.
    const separate: number[] = [];
    for (let i = 0; i < images; i++) separate.push(await wallMs(["generate", prompt, "--model", folder, ...settings, "--seed", String(100 + i), "-o", join(out, `separate-${i}.png`)]));
    const batch = await wallMs(["generate", prompt, "--model", folder, ...settings, "--seed", "100", "--count", String(images), "-o", join(out, "batch-{seed}.png")]);

    // 2. A running server.
    const started = performance.now();
    const server = await startServe(["--model", folder], { NUCLEUS_TOKEN: "" }, 15 * 60_000);
    const readyMs = performance.now() - started;
    const connection = new ImagesConnection(server.ready.grpc, "");
    const job = async (seed: number, count: number) => {
      const begun = performance.now();
      let loadSeconds = 0;
      for await (const event of connection.generate({ ...request, seed, count })) if (event.done) loadSeconds = event.done.timings!.loadSeconds;
      return { ms: performance.now() - begun, loadSeconds };
    };
    let nucleus: NucleusImage | undefined;
    try {
      const firstJob = await job(100, images); // encodes the prompt
      const laterJob = await job(200, images);
      const remote = await wallMs(["generate", prompt, "--server", server.ready.grpc, ...settings, "--seed", "300", "--count", String(images), "-o", join(out, "remote-{seed}.png")]);
      lines.push(
        `${name} (${size}×${size}, ${steps} steps, CFG 4), ${images} images, wall time per image:`,
        `  ${images} separate generate runs: ${seconds(median(separate))} each (engine start + load every time)`,
        `  generate --count ${images}: ${seconds(batch / images)} (one load)`,
        `  server started and loaded once: ${seconds(readyMs)} to its ready line; then`,
        `    first job of ${images}: ${seconds(firstJob.ms / images)} (its prompt encoded; load charged ${firstJob.loadSeconds.toFixed(2)} s)`,
        `    later job of ${images}: ${seconds(laterJob.ms / images)} (load charged ${laterJob.loadSeconds.toFixed(2)} s)`,
        `    generate --server --count ${images}: ${seconds(remote / images)} (with the CLI's Node start)`,
        `  ratio separate runs / server: ${(median(separate) / (laterJob.ms / images)).toFixed(1)}×; generate --count / server: ${(batch / laterJob.ms).toFixed(2)}×`,
      );

      // 3. The server path against the library in-process, alternated.
      nucleus = await NucleusImage.load(folder);
      const library: number[] = [];
      const served: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const begun = performance.now();
        const result = await nucleus.generate({ ...request, seed: 400 + r });
        await encodeImage(result.image, "png", { metadata: metadataText(result.metadata) });
        library.push(performance.now() - begun);
        served.push((await job(400 + r, 1)).ms);
      }
      const overhead = median(served) - median(library);
      lines.push(`  one image, library in-process (generate + PNG) ${seconds(median(library))} vs over the server ${seconds(median(served))}: ` +
        `overhead ${overhead.toFixed(0)} ms per image (${((overhead / median(library)) * 100).toFixed(1)} %), medians of ${repeats}`);

      // 4. Cancel and disconnect → idle.
      for (const how of ["Cancel", "disconnect"] as const) {
        const toEnd: number[] = [];
        const toIdle: number[] = [];
        const stepMs: number[] = [];
        for (let r = 0; r < repeats; r++) {
          const abort = new AbortController();
          let jobId = "";
          let progress = 0;
          let cancelledAt = 0;
          let lastElapsed = 0;
          const stream = (async () => {
            for await (const event of connection.generate({ ...request, steps: 1000, seed: 7 }, abort.signal)) {
              if (!event.progress) continue;
              jobId = event.jobId;
              stepMs.push(event.progress.elapsedSeconds * 1000 - lastElapsed);
              lastElapsed = event.progress.elapsedSeconds * 1000;
              if (++progress === 3) {
                cancelledAt = performance.now();
                if (how === "Cancel") await connection.cancel(jobId);
                else abort.abort();
              }
            }
          })().catch(() => undefined);
          await stream;
          toEnd.push(performance.now() - cancelledAt);
          while ((await connection.getInfo()).busy) await new Promise((resolve) => setTimeout(resolve, 5));
          toIdle.push(performance.now() - cancelledAt);
        }
        lines.push(`  ${how} → stream ended ${median(toEnd).toFixed(0)} ms, → server idle ${median(toIdle).toFixed(0)} ms (one step takes ${median(stepMs).toFixed(0)} ms; medians of ${repeats})`);
      }
    } finally {
      await nucleus?.close();
      connection.close();
      await server.stop("SIGTERM");
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return lines;
}

const lines: string[] = [];
for (const name of models) {
  const folder = name === "tiny" ? textModelFolder(tinyModel) : midModel();
  try {
    lines.push(...(await benchModel(name === "tiny" ? "tiny model" : "mid-size model (DiT 8 blocks, release VAE, 16-layer text encoder)", folder, name === "tiny" ? 128 : 256)));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
console.log(lines.join("\n"));
