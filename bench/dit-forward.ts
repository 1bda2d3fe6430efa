// DiT forward benchmark: the engine (one Denoise per forward, over gRPC) next to diffusers (PyTorch, CPU) on the
// same random weights in the same run. Reports the time ratio, peak memory and the gRPC overhead of a call.
//   npm run setup:reference && node dist/bench/dit-forward.js [--repeats 3] [--rounds 1] [--only mid|full-width] [--bf16]
// diffusers runs in one Python process kept for the whole run, and the two sides alternate forward by forward
// (ours, theirs, ours, ...): on a shared machine whose speed drifts, load that comes and goes then falls on both
// alike. --rounds N repeats that N times and reports the median of the N rounds' ratios (with each round's).
// --bf16 also times the engine with the weights kept in bfloat16 (the CPU backend computes in float32 from them),
// as a ratio to its float32 time, with both resident sizes.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { argument, benchModels, gib, median, numberArgument, ReferenceProcess, referencePython, runReference } from "./support.js";

referencePython();
const repeats = numberArgument("--repeats", 3);
const rounds = numberArgument("--rounds", 1);
const only = argument("--only");
const textLength = 128;
const withBf16 = process.argv.includes("--bf16");

const cases: { preset: string; width: number; grids: [number, number][]; jointDim: number }[] = [
  { preset: "mid", width: 512, grids: [[16, 16], [32, 32]], jointDim: 1024 },
  { preset: "full-width", width: 2048, grids: [[32, 32]], jointDim: 4096 },
];

const reference = (args: string[]) => runReference("diffusers_dit.py", args);

const lines: string[] = [];
for (const { preset, grids, jointDim } of cases.filter((c) => !only || c.preset === only)) {
  const modelDir = join(benchModels, `dit-${preset}`);
  if (!existsSync(join(modelDir, "transformer", "config.json"))) {
    mkdirSync(modelDir, { recursive: true });
    console.error(`making the ${preset} model in ${modelDir}`);
    reference(["make", "--preset", preset, "--out", modelDir]);
  }
  const engine = await LocalEngine.start();
  const diffusers = new ReferenceProcess("diffusers_dit.py", ["--model", modelDir, "--dtype", "float32"]);
  try {
    const summary = await engine.client.loadModel(modelDir, { dtype: DType.DTYPE_FLOAT32 });
    const text = { dtype: DType.DTYPE_FLOAT32, shape: [textLength, jointDim], data: Buffer.alloc(textLength * jointDim * 4) };
    new Float32Array(text.data.buffer, text.data.byteOffset, textLength * jointDim).forEach((_, i, a) => (a[i] = Math.sin(i)));
    const handle = (await engine.client.importEmbedding(text)).id;
    const float32Computes: number[] = [];
    for (const [h, w] of grids) {
      const tokens = h * w;
      const latents = { dtype: DType.DTYPE_FLOAT32, shape: [tokens, 64], data: Buffer.alloc(tokens * 64 * 4) };
      new Float32Array(latents.data.buffer, latents.data.byteOffset, tokens * 64).forEach((_, i, a) => (a[i] = Math.cos(i)));
      await engine.client.denoise(latents, { height: h, width: w }, 0.5, [handle]); // warm-up, fills the text cache
      const ratios: number[] = [];
      const engineTimes: number[] = [];
      const engineComputes: number[] = [];
      const diffusersTimes: number[] = [];
      let diffusersRss = 0;
      for (let round = 0; round < rounds; round++) {
        const roundTrips: number[] = [];
        const computes: number[] = [];
        const theirRuns: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const started = performance.now();
          const response = await engine.client.denoise(latents, { height: h, width: w }, 0.5, [handle]);
          roundTrips.push((performance.now() - started) / 1000);
          computes.push(response.computeSeconds);
          const theirs = await diffusers.request<{ runs: number[]; max_rss_bytes: number }>({ grid: [h, w], text: textLength, batch: 1, repeats: 1 });
          theirRuns.push(...theirs.runs);
          diffusersRss = Math.max(diffusersRss, theirs.max_rss_bytes);
        }
        engineTimes.push(median(roundTrips));
        engineComputes.push(median(computes));
        diffusersTimes.push(median(theirRuns));
        ratios.push(median(roundTrips) / median(theirRuns));
      }
      float32Computes.push(median(engineComputes));
      const info = await engine.client.getInfo();
      const ours = median(engineTimes);
      const compute = median(engineComputes);
      const perRound = rounds > 1 ? ` (rounds: ${ratios.map((ratio) => ratio.toFixed(2)).join(", ")})` : "";
      lines.push(
        `${preset.padEnd(11)} ${`${h * 16}x${w * 16}`.padEnd(8)} engine ${ours.toFixed(3)} s (compute ${compute.toFixed(3)} s, gRPC overhead ${((ours - compute) * 1000).toFixed(1)} ms)` +
          ` | diffusers ${median(diffusersTimes).toFixed(3)} s | ratio ${median(ratios).toFixed(2)}${perRound}` +
          ` | peak: engine MLX ${gib(Number(info.memory?.peakBytes ?? 0))}, diffusers process RSS ${gib(diffusersRss)}`,
      );
    }
    lines.push(`${preset.padEnd(11)} parameters ${Number(summary.components[0]?.parameterCount).toLocaleString("en")}, resident ${gib(Number(summary.components[0]?.bytes))}`);
    if (withBf16) {
      const bf16 = await engine.client.loadModel(modelDir, { dtype: DType.DTYPE_BFLOAT16 });
      const bf16Handle = (await engine.client.importEmbedding(text)).id;
      for (const [index, [h, w]] of grids.entries()) {
        const tokens = h * w;
        const latents = { dtype: DType.DTYPE_FLOAT32, shape: [tokens, 64], data: Buffer.alloc(tokens * 64 * 4) };
        await engine.client.denoise(latents, { height: h, width: w }, 0.5, [bf16Handle]);
        const computes: number[] = [];
        for (let i = 0; i < repeats; i++) computes.push((await engine.client.denoise(latents, { height: h, width: w }, 0.5, [bf16Handle])).computeSeconds);
        lines.push(
          `${preset.padEnd(11)} ${`${h * 16}x${w * 16}`.padEnd(8)} bf16 weights: compute ${median(computes).toFixed(3)} s, ${(median(computes) / float32Computes[index]!).toFixed(2)}× float32;` +
            ` resident ${gib(Number(bf16.components[0]?.bytes))} vs ${gib(Number(summary.components[0]?.bytes))}`,
        );
      }
    }
  } finally {
    diffusers.close();
    await engine.stop();
  }
}
console.log(`one forward (batch 1, text ${textLength} tokens, float32) on this CPU; ratio = engine / diffusers time`);
for (const line of lines) console.log(line);
