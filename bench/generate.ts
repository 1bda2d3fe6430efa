// End-to-end generation on a mid-size random model at 512²: time per step seen by the orchestrator (sampling
// loop + gRPC + engine) against the engine's compute alone, the whole generate time, and peak memory.
//   npm run setup:reference && node dist/bench/generate.js [--steps 4] [--size 512]
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { float32Tensor } from "../orchestrator/src/tensors/convert.js";
import { benchModels, gib, median, numberArgument, referencePython, root } from "./support.js";

const steps = numberArgument("--steps", 4);
const size = numberArgument("--size", 512);

const ditDir = join(benchModels, "dit-mid");
const modelDir = join(benchModels, "pipeline-mid");
if (!existsSync(join(modelDir, "vae", "config.json"))) {
  const python = referencePython();
  if (!existsSync(join(ditDir, "transformer"))) {
    execFileSync(python, [join(root, "bench", "reference", "diffusers_dit.py"), "make", "--preset", "mid", "--out", ditDir], { stdio: "inherit" });
  }
  execFileSync(python, [join(root, "bench", "reference", "make_bench_pipeline.py"), "--transformer", join(ditDir, "transformer"), "--out", modelDir], { stdio: "inherit" });
}

const started = performance.now();
const model = await NucleusImage.load(modelDir);
const loadedMs = performance.now() - started;
try {
  const width = model.folder.textWidth;
  const text = (length: number, phase: number) =>
    ({ embedding: float32Tensor(Float32Array.from({ length: length * width }, (_, i) => Math.sin(i * 0.37 + phase)), [length, width]) });
  const stepTimes: number[] = [];
  let last = 0;
  const result = await model.generate(
    { prompt: text(128, 0), negative: text(72, 1), width: size, height: size, steps, cfg: 4, seed: 7 },
    { onProgress: (progress) => { stepTimes.push(progress.elapsedMs - last); last = progress.elapsedMs; } },
  );
  const info = await model.client.getInfo();
  const perStep = median(stepTimes);
  const computePerStep = result.timings.denoiseComputeMs / steps;
  console.log(`mid-size model (${model.summary.components.map((c) => `${c.name} ${Number(c.parameterCount).toLocaleString("en")} params`).join(", ")}), ${size}x${size}, ${steps} steps, CFG 4 (batch of 2 per step), float32 on this CPU`);
  console.log(`per step: end to end ${(perStep / 1000).toFixed(3)} s (orchestrator + gRPC + engine) vs engine compute ${(computePerStep / 1000).toFixed(3)} s -> overhead ${(perStep - computePerStep).toFixed(1)} ms (${(((perStep - computePerStep) / perStep) * 100).toFixed(1)} %)`);
  console.log(`whole generate: ${(result.timings.totalMs / 1000).toFixed(2)} s (${(result.timings.stepsMs / 1000).toFixed(2)} s steps, ${(result.timings.decodeMs / 1000).toFixed(2)} s VAE decode); model load ${(loadedMs / 1000).toFixed(2)} s`);
  console.log(`peak MLX memory in the engine: ${gib(Number(info.memory?.peakBytes ?? 0))} (weights resident ${gib(model.summary.components.reduce((t, c) => t + Number(c.bytes), 0))})`);
} finally {
  await model.close();
}
