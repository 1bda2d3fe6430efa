// Engine memory for large ImportEmbedding requests (issue 11, defect 7): the peak resident memory of a fresh engine
// (GetInfo's peak_rss_bytes, Linux VmHWM) after one request of --mb MB, and after --concurrent requests at once,
// reported as multiples of the request size. The client sends each request once, so every byte over the payload
// is a copy the engine made.
//   node dist/bench/import-memory.js [--mb 480] [--concurrent 4] [--width 3584]
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { gib, numberArgument } from "./support.js";

const megabytes = numberArgument("--mb", 480);
const concurrent = numberArgument("--concurrent", 4);
const width = numberArgument("--width", 3584);

const length = Math.floor((megabytes * 1e6) / (width * 4));
const payload = { dtype: DType.DTYPE_FLOAT32, shape: [length, width], data: Buffer.alloc(length * width * 4, 0x3c) };
const requestBytes = payload.data.length;

async function measure(calls: number): Promise<{ baseline: number; peak: number; outcomes: string[] }> {
  const engine = await LocalEngine.start();
  try {
    const baseline = (await engine.client.getInfo({})).memory!.peakRssBytes;
    const outcomes = await Promise.all(
      Array.from({ length: calls }, () =>
        engine.client.importEmbedding(payload, undefined, { timeoutMs: 120_000 }).then(
          () => "ok",
          (error: Error) => error.message.split("\n")[0]!,
        ),
      ),
    );
    const peak = (await engine.client.getInfo({})).memory!.peakRssBytes;
    return { baseline, peak, outcomes };
  } finally {
    await engine.stop();
  }
}

console.log(`request: [${length}, ${width}] float32 = ${(requestBytes / 1e6).toFixed(0)} MB`);
for (const calls of [1, concurrent]) {
  const { baseline, peak, outcomes } = await measure(calls);
  const added = peak - baseline;
  console.log(
    JSON.stringify({
      calls, requestMB: Math.round(requestBytes / 1e6), baselineRss: gib(baseline), peakRss: gib(peak),
      addedPerRequest: +(added / calls / requestBytes).toFixed(2), outcomes,
    }),
  );
}
