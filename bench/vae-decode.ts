// VAE decode benchmark: the engine's Decode (block-by-block 2-D decoder, over gRPC) next to diffusers'
// AutoencoderKLQwenImage.decode (PyTorch, CPU) on the same random release-size VAE, float32, in the same run.
// Reports the time ratio and the peak memory of each side.
//   npm run setup:reference && node dist/bench/vae-decode.js [--sizes 256,512,1024] [--repeats 1]
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { argument, benchModels, gib, median, numberArgument, referencePython, runReference } from "./support.js";

referencePython();
const sizes = (argument("--sizes") ?? "256,512,1024").split(",").map(Number);
const repeats = numberArgument("--repeats", 1);
const modelDir = join(benchModels, "vae-release");
if (!existsSync(join(modelDir, "vae", "config.json"))) {
  mkdirSync(modelDir, { recursive: true });
  console.error(`making the release-size VAE in ${modelDir}`);
  runReference("diffusers_vae.py", ["make", "--out", modelDir]);
}

/** The engine process's peak resident memory (Linux: VmHWM). */
function peakResident(pid: number | undefined): number {
  const status = pid ? readFileSync(`/proc/${pid}/status`, "utf8") : "";
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

const lines: string[] = [];
for (const size of sizes) {
  const grid = size / 16;
  // A fresh engine per size, so that its peaks belong to this size alone.
  const engine = await LocalEngine.start();
  try {
    await engine.client.loadModel(modelDir, { dtype: DType.DTYPE_FLOAT32, components: ["vae"] });
    const latents = (g: number) => {
      const data = Buffer.alloc(g * g * 64 * 4);
      new Float32Array(data.buffer, data.byteOffset, g * g * 64).forEach((_, i, a) => (a[i] = Math.sin(i * 0.37)));
      return { dtype: DType.DTYPE_FLOAT32, shape: [g * g, 64], data };
    };
    const decode = (g: number) => engine.client.unary("decode", { latents: latents(g), gridHeight: g, gridWidth: g, floatOutput: false });
    await decode(16); // a 256² warm-up, as on the reference side
    const roundTrips: number[] = [];
    const computes: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const started = performance.now();
      computes.push((await decode(grid)).computeSeconds);
      roundTrips.push((performance.now() - started) / 1000);
    }
    const info = await engine.client.getInfo();
    const ours = median(roundTrips);
    const theirs = JSON.parse(
      runReference("diffusers_vae.py", ["time", "--model", modelDir, "--height", String(size), "--width", String(size), "--repeats", String(repeats)]),
    ) as { seconds: number; max_rss_bytes: number };
    lines.push(
      `${`${size}x${size}`.padEnd(10)} engine ${ours.toFixed(2)} s (compute ${median(computes).toFixed(2)} s) | diffusers ${theirs.seconds.toFixed(2)} s | ratio ${(ours / theirs.seconds).toFixed(2)}` +
        ` | peak: engine MLX ${gib(Number(info.memory?.peakBytes ?? 0))}, engine process RSS ${gib(peakResident(engine.pid))}, diffusers process RSS ${gib(theirs.max_rss_bytes)}`,
    );
  } finally {
    await engine.stop();
  }
}
console.log("one VAE decode (batch 1, float32) on this CPU; ratio = engine Decode round trip / diffusers vae.decode time");
for (const line of lines) console.log(line);
