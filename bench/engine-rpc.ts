// RPC benchmark: engine start-to-ready time, and GetInfo/Health round trips over the Unix socket, next to a
// grpc-js reference server answering the same messages in the same run (ratio = engine / reference).
//   node dist/bench/engine-rpc.js [--calls 1000] [--starts 5]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { EngineClient } from "../orchestrator/src/engine/client.js";
import { packageRoot } from "../orchestrator/src/engine/locate.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { median, numberArgument } from "./support.js";

const calls = numberArgument("--calls", 1000);
const starts = numberArgument("--starts", 5);

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

async function roundTrips(client: EngineClient, method: "getInfo" | "health"): Promise<number[]> {
  const call = () => (method === "getInfo" ? client.getInfo({}) : client.health());
  for (let i = 0; i < 50; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  return times;
}

async function startReference(): Promise<{ client: EngineClient; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "nucleus-bench-"));
  const child = spawn(process.execPath, [join(packageRoot(), "dist", "bench", "reference", "grpc-js-engine-stub.js"), join(dir, "ref.sock")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const address = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).once("line", (line) => resolve((JSON.parse(line) as { address: string }).address)),
  );
  const client = new EngineClient(address);
  return {
    client,
    stop: () => {
      client.close();
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const readyTimes: number[] = [];
for (let i = 0; i < starts; i++) {
  const engine = await LocalEngine.start();
  readyTimes.push(engine.startToReadyMs);
  await engine.stop();
}

const engine = await LocalEngine.start();
const reference = await startReference();
const rows: string[] = [];
for (const method of ["getInfo", "health"] as const) {
  const ours = await roundTrips(engine.client, method);
  const theirs = await roundTrips(reference.client, method);
  rows.push(
    `${method.padEnd(8)} engine median ${median(ours).toFixed(3)} ms (p99 ${percentile(ours, 99).toFixed(3)})` +
      ` | grpc-js reference median ${median(theirs).toFixed(3)} ms (p99 ${percentile(theirs, 99).toFixed(3)})` +
      ` | ratio ${(median(ours) / median(theirs)).toFixed(2)}`,
  );
}
reference.stop();
await engine.stop();

console.log(`engine start-to-ready: median ${median(readyTimes).toFixed(1)} ms over ${starts} starts (${readyTimes.map((t) => t.toFixed(0)).join(", ")})`);
console.log(`round trips over a Unix socket, ${calls} sequential calls each:`);
for (const row of rows) console.log("  " + row);
