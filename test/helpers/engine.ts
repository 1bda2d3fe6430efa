import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import * as grpc from "@grpc/grpc-js";

import type { EngineClient } from "../../orchestrator/src/engine/client.js";
import { packageRoot } from "../../orchestrator/src/engine/locate.js";

export const repoRoot = packageRoot();

export const packageVersion = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string })
  .version;

/**
 * PIDs of live processes whose command line mentions the engine binary of this checkout (engines and builds of
 * other checkouts on a shared machine are not ours to count).
 */
export function enginePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const state = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmdline.includes("nucleus-engine") && cmdline.includes(repoRoot + "/") && state !== "Z") pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** The process's state letter from /proc (R, S, D, T for stopped, Z ...), undefined when it is gone. */
export function processState(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== "Z";
}

/** Waits until `condition()` holds, checking every few milliseconds; throws naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

/**
 * Calls Health one after another while `call` is pending and counts the answers that arrive before it settles and
 * count it in flight (Health itself is one more). An engine that serves Health beside a long computation answers
 * many; one that makes Health wait for the computation answers at most one before the computation's own reply.
 */
export async function healthAnswersDuring(client: EngineClient, call: Promise<unknown>): Promise<number> {
  let settled = false;
  call.then(() => (settled = true), () => (settled = true));
  let answers = 0;
  while (!settled) {
    const health = await client.health();
    if (!settled && health.inFlightCalls >= 2) answers++;
    await delay(2);
  }
  return answers;
}

/**
 * Starts `start()` and polls Health until the engine counts that call in flight (Health itself is one more). If the
 * call finished before it was seen (a fast machine), it is started again, up to `attempts` times. Resolves once the
 * call is in flight (with the call, wrapped so that awaiting this does not await it): what comes next (a signal, a
 * kill) happens while the engine works on it.
 */
export async function startInFlight<T>(client: EngineClient, start: () => Promise<T>, attempts = 5): Promise<{ call: Promise<T> }> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let settled = false;
    const call = start();
    call.then(() => (settled = true), () => (settled = true));
    while (!settled) {
      if ((await client.health()).inFlightCalls >= 2 && !settled) return { call };
      await delay(5);
    }
    await call.catch(() => undefined);
  }
  throw new Error(`the call finished before the engine reported it in flight, ${attempts} times`);
}

/** Waits until `pid` is gone; false if it still lives after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await delay(25);
  }
  return !isAlive(pid);
}

/** Sends raw bytes to any method path and returns the status code and details (no message decoding). */
export function rawUnaryCall(address: string, path: string, payload: Buffer): Promise<{ code: grpc.status; details: string }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (value: Buffer) => value,
      (value: Buffer) => value,
      payload,
      (error) => {
        client.close();
        resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: "" });
      },
    );
  });
}
