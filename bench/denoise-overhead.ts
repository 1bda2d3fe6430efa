// Denoise round-trip overhead and the sampling loop's own time per step, on a tiny transformer with the
// release's input/output widths (64 packed latent channels in and out), so the messages are the real sizes and
// the engine's compute is small. Overhead = round trip seen by the client − the engine's compute (the forward).
// Both ways tensors travel are timed in the same run: through the shared-memory file a local engine attaches (what
// LocalEngine's client does) and inside the messages (any other client). "Beyond an empty call" subtracts the
// median Health round trip, the floor grpc-js and the machine set for any call; "beyond an empty call after as
// long idle" subtracts a Health call made after sleeping as long as the forward took, since on a virtual machine
// a call after an idle gap costs more than one right after another.
// The orchestrator's step time is what generate() does between two Denoise calls: the request tensor, reading
// the predictions, CFG with the norm rescale and the Euler update.
//   node dist/bench/denoise-overhead.js [--calls 30] [--sizes 512,1024] [--batch 2]
import { join } from "node:path";

import { EngineClient } from "../orchestrator/src/engine/client.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { decodeDenoiseResponse, encodeDenoiseRequest } from "../orchestrator/src/engine/denoise-codec.js";
import { DenoiseResponse, DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { denoiseLatents, nextLatents, type StepBuffers } from "../orchestrator/src/pipeline/generate.js";
import { float32Bytes, GuidedEulerWorkspace } from "../orchestrator/src/sampling/wasm/guided-euler.js";
import { argument, median, numberArgument, root } from "./support.js";

const calls = numberArgument("--calls", 30);
const batch = numberArgument("--batch", 2);
const sizes = (argument("--sizes") ?? "512,1024").split(",").map(Number);
const channels = 64;
const modelDir = join(root, "test", "fixtures", "dit", "tiny-a");

/** The response's wire bytes (as the engine sends them), for timing the client's decoder alone. */
function encodeResponse(predictions: { data: Buffer }[], computeSeconds: number): Buffer {
  return Buffer.from(DenoiseResponse.encode({ predictions: predictions as DenoiseResponse["predictions"], computeSeconds }).finish());
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

/** Median milliseconds of `body` over `count` runs after a few warm-ups. */
function time(count: number, body: () => void): number {
  for (let i = 0; i < 5; i++) body();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    body();
    times.push(performance.now() - started);
  }
  return median(times);
}

const engine = await LocalEngine.start();
const lines: string[] = [];
try {
  await engine.client.loadModel(modelDir, { dtype: DType.DTYPE_FLOAT32 });
  const text = { dtype: DType.DTYPE_FLOAT32, shape: [128, 24], data: Buffer.alloc(128 * 24 * 4, 1) };
  const handles: number[] = [];
  for (let i = 0; i < batch; i++) handles.push((await engine.client.importEmbedding(text)).id);

  const healthTimes: number[] = [];
  for (let i = 0; i < 50 + calls; i++) {
    const started = performance.now();
    await engine.client.health();
    if (i >= 50) healthTimes.push(performance.now() - started);
  }
  lines.push(`Health round trip (no payload): median ${median(healthTimes).toFixed(3)} ms`);

  const messagesClient = new EngineClient(engine.ready.address, undefined, { token: engine.authToken });
  const clients = [["shared memory", engine.client], ["in messages", messagesClient]] as const;
  const floor = median(healthTimes);
  for (const size of sizes) {
    const grid = { height: size / 16, width: size / 16 };
    const tokens = grid.height * grid.width;
    const latents = Float32Array.from({ length: tokens * channels }, (_, i) => Math.sin(i * 0.01));
    const into = handles.map(() => float32Bytes(new Float32Array(tokens * channels)));
    let response!: DenoiseResponse;
    const results: { way: string; overheads: number[]; computes: number[] }[] = [];
    for (const [way, client] of clients) {
      const call = () => client.denoise(denoiseLatents(latents, tokens, channels), grid, 0.5, handles, { predictionsInto: into });
      for (let i = 0; i < 3; i++) await call();
      const overheads: number[] = [];
      const computes: number[] = [];
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        response = await call();
        const roundTrip = performance.now() - started;
        overheads.push(roundTrip - response.computeSeconds * 1000);
        computes.push(response.computeSeconds * 1000);
      }
      results.push({ way, overheads, computes });
    }
    const idleMs = median(results.flatMap((result) => result.computes));
    const idleHealth: number[] = [];
    for (let i = 0; i < calls; i++) {
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      const started = performance.now();
      await engine.client.health();
      idleHealth.push(performance.now() - started);
    }
    const idleFloor = median(idleHealth);
    for (const { way, overheads, computes } of results) {
      const overhead = median(overheads);
      lines.push(
        `${`${size}x${size}`.padEnd(10)} batch ${batch}, tensors ${way.padEnd(13)}: Denoise overhead median ${overhead.toFixed(2)} ms` +
          ` (p90 ${percentile(overheads, 90).toFixed(2)} ms; beyond an empty call ${(overhead - floor).toFixed(2)} ms,` +
          ` beyond one after as long idle ${(overhead - idleFloor).toFixed(2)} ms) over compute ${median(computes).toFixed(1)} ms`,
      );
    }
    lines.push(`${`${size}x${size}`.padEnd(10)} empty Health call after ${idleMs.toFixed(0)} ms idle: median ${idleFloor.toFixed(3)} ms`);
    // Client-side message work, timed alone: encoding the request, decoding the response (the client's codec).
    const request = { latents: denoiseLatents(latents, tokens, channels), gridHeight: grid.height, gridWidth: grid.width, timestep: 0.5, conditioning: handles };
    const encodeMs = time(calls, () => encodeDenoiseRequest(request));
    const responseBytes = encodeResponse(response.predictions, response.computeSeconds);
    const decodeMs = time(calls, () => decodeDenoiseResponse(responseBytes));
    // The sampling loop's step: request tensor + predictions -> CFG + Euler -> next latents (float32). As generate()
    // does: latents and predictions in the WebAssembly step's memory (the shared-memory read puts them there);
    // and, for comparison, with every array copied in and out (predictions where a response message holds them).
    const step = { cfg: 4, channels, sigma: 0.5, sigmaNext: 0.48, dtype: "float32" } as const;
    const workspace = GuidedEulerWorkspace.create(latents.length, channels)!;
    workspace.latents[0].set(latents);
    const inPlace = response.predictions.map((prediction, index) => {
      float32Bytes(workspace.predictions[index]!).set(prediction.data);
      const target = workspace.predictions[index]!;
      return { ...prediction, data: Buffer.from(target.buffer, target.byteOffset, target.byteLength) };
    });
    const inLoop: StepBuffers = { workspace, into: workspace.latents[1], predictions: workspace.predictions };
    const stepMs = time(calls, () => {
      denoiseLatents(workspace.latents[0], tokens, channels);
      nextLatents(workspace.latents[0], inPlace, step, inLoop);
    });
    const copied: StepBuffers = { into: new Float32Array(latents.length), predictions: handles.map(() => new Float32Array(latents.length)) };
    const copiedStepMs = time(calls, () => {
      denoiseLatents(latents, tokens, channels);
      nextLatents(latents, response.predictions, step, copied);
    });
    const inMiB = (tokens * channels * 4) / 2 ** 20;
    lines.push(
      `${`${size}x${size}`.padEnd(10)} batch ${batch}: messages ${inMiB.toFixed(2)} MiB in, ${(inMiB * batch).toFixed(2)} MiB out` +
        ` | client encode ${encodeMs.toFixed(2)} ms, decode ${decodeMs.toFixed(2)} ms | orchestrator step ${stepMs.toFixed(2)} ms` +
        ` (arrays copied in and out: ${copiedStepMs.toFixed(2)} ms)`,
    );
  }
  messagesClient.close();
} finally {
  await engine.stop();
}
console.log("Denoise round trips on a tiny transformer with the release's 64 latent channels (float32); overhead = round trip − engine compute");
for (const line of lines) console.log(line);
