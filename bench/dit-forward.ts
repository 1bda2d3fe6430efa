// DiT forward benchmark: the engine (one Denoise per forward, over gRPC) next to diffusers (PyTorch, CPU) on the
// same random weights in the same run. Reports the time ratio, peak memory and the gRPC overhead of a call.
//   npm run setup:reference && node dist/bench/dit-forward.js [--repeats 3] [--only mid|full-width] [--bf16]
// --bf16 also times the engine with the weights kept in bfloat16 (the CPU backend computes in float32 from them),
// as a ratio to its float32 time, with both resident sizes.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { argument, benchModels, gib, median, numberArgument, referencePython, runReference } from "./support.js";

referencePython();
const repeats = numberArgument("--repeats", 3);
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
      const roundTrips: number[] = [];
      const computes: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const started = performance.now();
        const response = await engine.client.denoise(latents, { height: h, width: w }, 0.5, [handle]);
        roundTrips.push((performance.now() - started) / 1000);
        computes.push(response.computeSeconds);
      }
      float32Computes.push(median(computes));
      const info = await engine.client.getInfo();
      const theirs = JSON.parse(reference(["time", "--model", modelDir, "--grid", String(h), String(w), "--text", String(textLength), "--repeats", String(repeats)])) as { seconds: number; max_rss_bytes: number };
      const ours = median(roundTrips);
      lines.push(
        `${preset.padEnd(11)} ${`${h * 16}x${w * 16}`.padEnd(8)} engine ${ours.toFixed(3)} s (compute ${median(computes).toFixed(3)} s, gRPC overhead ${((ours - median(computes)) * 1000).toFixed(1)} ms)` +
          ` | diffusers ${theirs.seconds.toFixed(3)} s | ratio ${(ours / theirs.seconds).toFixed(2)}` +
          ` | peak: engine MLX ${gib(Number(info.memory?.peakBytes ?? 0))}, diffusers process RSS ${gib(theirs.max_rss_bytes)}`,
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
    await engine.stop();
  }
}
console.log(`one forward (batch 1, text ${textLength} tokens, float32) on this CPU; ratio = engine / diffusers time`);
for (const line of lines) console.log(line);
