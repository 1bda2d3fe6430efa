// Replays a saved fuzz finding against a real engine: the same model state, the same checkpoint folder, the same
// request bytes; the test asserts the engine survives and answers clearly.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

import * as grpc from "@grpc/grpc-js";

import { buildFolder } from "./checkpoints.js";
import { FuzzEngine, type RegressionCase } from "./harness.js";
import { SCRATCH } from "./messages.js";
import { rawCall, type CallResult } from "./rpc.js";

export function regressionCases(directory: string): { name: string; regression: RegressionCase }[] {
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.endsWith(".json")).sort();
  } catch {
    return [];
  }
  return names.map((name) => ({ name, regression: JSON.parse(readFileSync(join(directory, name), "utf8")) as RegressionCase }));
}

export interface Replay {
  results: CallResult[];
  died: boolean;
  exit?: { code: number | null; signal: string | null };
}

/** Runs one case on `fuzz` (started); restarts the engine afterwards if the case ended it. */
export async function replay(fuzz: FuzzEngine, repoRoot: string, scratch: { root: string; secret: string }, regression: RegressionCase, deadlineMs = 30_000): Promise<Replay> {
  if (regression.setup) {
    // Handles are numbered from 1 by a fresh engine: make them again in the same order.
    await fuzz.stop();
    await fuzz.start();
    let current: string | undefined;
    for (const call of regression.setup) {
      if (call.state !== current) await fuzz.setState(call.state);
      current = call.state;
      const made = await rawCall(fuzz.client!, call.method, Buffer.from(call.payloadBase64, "base64"), deadlineMs);
      if (made.code !== grpc.status.OK) throw new Error(`setup ${call.method} failed: ${made.details}`);
    }
  }
  await fuzz.setState(regression.state);
  if (regression.folder) buildFolder(repoRoot, regression.folder, join(scratch.root, SCRATCH.case), scratch.secret);
  const results = await Promise.all(
    regression.calls.map((call) => rawCall(fuzz.client!, call.method, Buffer.from(call.payloadBase64, "base64"), deadlineMs)),
  );
  const shutdown = regression.calls.some((call, i) => call.method === "Shutdown" && results[i]!.code === grpc.status.OK);
  const died = !shutdown && (await fuzz.died(300));
  const exit = fuzz.engine?.exit;
  if (shutdown || died) {
    await fuzz.stop();
    await fuzz.start();
  }
  return { results, died, exit };
}
