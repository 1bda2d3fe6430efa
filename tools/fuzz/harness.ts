// The fuzz loop: a real engine in a scratch folder, cases of four kinds (structured messages, byte-mutated
// messages, broken checkpoint folders, concurrent bursts), each checked for engine death, calls over their
// deadline, SIGTERM not honoured, and unclear answers (INTERNAL/UNKNOWN, messages over 2 KiB, file bytes echoed).
// Any finding is saved as a regression case that test/fuzz-regressions.test.ts replays.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import * as grpc from "@grpc/grpc-js";

import { LocalEngine } from "../../orchestrator/src/engine/process.js";
import { ConvertModelRequest, DenoiseRequest, EncodeTextResponse, ImportEmbeddingResponse, ReleaseRequest } from "../../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { buildFolder, randomRecipe, type FolderRecipe } from "./checkpoints.js";
import { type Call, type Knowledge, type ModelState, SCRATCH, SHARED_FILE_BYTES, SHARED_FILES, structuredCall } from "./messages.js";
import { mutate } from "./mutate.js";
import { connect, rawCall, type CallResult, type Method } from "./rpc.js";
import { Random } from "./random.js";
import { judge, type Verdict } from "./oracle.js";


export interface FuzzOptions {
  repoRoot: string;
  cases: number;
  seed: number;
  /** Stop after this many seconds even if fewer cases ran. */
  seconds: number;
  /** Where findings are saved as regression cases (none when undefined). */
  saveDir?: string;
  /** A call that takes longer than this is a hang. */
  callDeadlineMs?: number;
  log?: (line: string) => void;
}

export type FindingKind = "crash" | "hang" | "unclear";

export interface Finding {
  kind: FindingKind;
  caseNumber: number;
  method: string;
  what: string;
  saved?: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  calls: number;
  seconds: number;
  crashes: number;
  hangs: number;
  unclear: number;
  findings: Finding[];
  /** Calls per RPC and per status name, to show what the run reached. */
  methods: Record<string, number>;
  statuses: Record<string, number>;
  kinds: Record<string, number>;
  engineStarts: number;
}

/** A call that created an embedding handle, with the model state it ran in. */
export interface SetupCall {
  state: ModelState;
  method: Method;
  payloadBase64: string;
}

/**
 * A saved case: what the engine held, the folder (if any), the calls (sent at once). `setup` are the calls that
 * created handles 1, 2, ... on a fresh engine, for cases that use handles (replayed in order, so ids match).
 */
export interface RegressionCase {
  description: string;
  state: ModelState;
  folder?: FolderRecipe;
  setup?: SetupCall[];
  calls: { method: Method; payloadBase64: string }[];
  found: { seed: number; caseNumber: number; kind: FindingKind; what: string };
}

const SHUTDOWN_GRACE_MS = 2000;
export const SECRET_MARK = "NUCLEUS-FUZZ-SECRET";

/** The scratch folder the engine runs in: links to the fixtures, the canary file, out/ for conversions. */
export function makeScratch(repoRoot: string): { root: string; secret: string } {
  const root = mkdtempSync(join(tmpdir(), "nucleus-fuzz-"));
  symlinkSync(join(repoRoot, "test", "fixtures", "pipeline", "tiny"), join(root, SCRATCH.pipeline));
  symlinkSync(join(repoRoot, "test", "fixtures", "dit", "tiny-a"), join(root, SCRATCH.tinyA));
  const secret = join(root, SCRATCH.secret);
  writeFileSync(secret, `${SECRET_MARK}-${"7f3a".repeat(8)}\nroot:$6$saltsalt$hash:19000:0:99999:7:::\n`);
  mkdirSync(join(root, SCRATCH.out));
  mkdirSync(join(root, SCRATCH.out, "existing"));
  mkdirSync(join(root, SCRATCH.case));
  makeSharedFiles(secret);
  return { root, secret };
}

/** The shared-memory files of SHARED_FILES (none where there is no /dev/shm); removed by removeSharedFiles. */
function makeSharedFiles(secret: string): void {
  if (!existsSync("/dev/shm")) return;
  removeSharedFiles();
  writeFileSync(SHARED_FILES.valid, randomBytes(SHARED_FILE_BYTES), { mode: 0o600 });
  writeFileSync(SHARED_FILES.public, randomBytes(4096), { mode: 0o644 });
  chmodSync(SHARED_FILES.public, 0o644);
  symlinkSync(secret, SHARED_FILES.link);
  execFileSync("mkfifo", ["-m", "600", SHARED_FILES.fifo]);
}

export function removeSharedFiles(): void {
  for (const path of Object.values(SHARED_FILES)) rmSync(path, { force: true });
}

/** One engine of the run, started in the scratch folder. */
export class FuzzEngine {
  engine?: LocalEngine;
  client?: grpc.Client;
  starts = 0;

  constructor(private readonly scratch: string) {}

  async start(): Promise<void> {
    const previous = process.cwd();
    process.chdir(this.scratch); // the engine inherits it: relative paths in requests resolve in the scratch folder
    try {
      this.engine = await LocalEngine.start({ shutdownGraceMs: SHUTDOWN_GRACE_MS, watchdog: false, onStderr: () => {} });
    } finally {
      process.chdir(previous);
    }
    this.client = connect(this.engine.ready.address);
    this.starts++;
  }

  /** Whether the engine died (waiting up to `waitMs` for its exit to be noticed). */
  async died(waitMs: number): Promise<boolean> {
    if (!this.engine) return true;
    if (!this.engine.running) return true;
    return (await this.engine.waitForExit(waitMs)) !== undefined;
  }

  async setState(state: ModelState): Promise<void> {
    const engine = this.engine!;
    if (state === "none") await engine.client.unload([], { timeoutMs: 30_000 });
    else await engine.client.loadModel(state === "pipeline" ? SCRATCH.pipeline : SCRATCH.tinyA, { memoryLimitBytes: 8 * 2 ** 30 }, undefined, { timeoutMs: 60_000 });
  }

  /** SIGTERM (with a call in flight when given): the engine must exit within its grace period and a margin. */
  async terminate(inFlight?: Call): Promise<{ honoured: boolean; ms: number }> {
    const engine = this.engine;
    if (!engine || !engine.running) return { honoured: true, ms: 0 };
    if (inFlight && this.client) void rawCall(this.client, inFlight.method, inFlight.payload, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    process.kill(engine.pid!, "SIGTERM");
    const exit = await engine.waitForExit(SHUTDOWN_GRACE_MS + 5000);
    const ms = Date.now() - started;
    if (!exit) process.kill(engine.pid!, "SIGKILL");
    await this.stop();
    return { honoured: exit !== undefined, ms };
  }

  async stop(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    await this.engine?.stop(1000);
    this.engine = undefined;
  }

  stderr(): string {
    return this.engine?.stderrTail(10) ?? "";
  }
}

/** A ConvertModel request is only sent when its target stays inside out/ (it writes and may replace folders). */
export function convertTargetIsSafe(payload: Buffer): boolean {
  let target: string;
  try {
    target = ConvertModelRequest.decode(payload).targetDir;
  } catch {
    return false;
  }
  const segments = target.split("/");
  return segments[0] === SCRATCH.out && !segments.includes("..") && !target.includes("\\");
}

/** The largest embedding handle a call names (Denoise conditioning, Release handles), 0 when none or unreadable. */
function largestHandle(call: Call): number {
  try {
    const handles = call.method === "Denoise" ? DenoiseRequest.decode(call.payload).conditioning : call.method === "Release" ? ReleaseRequest.decode(call.payload).handles : [];
    return handles.reduce((max, handle) => Math.max(max, Number(handle)), 0);
  } catch {
    return 0;
  }
}

/** Most setup calls a saved case carries. */
const MAX_SETUP = 64;

function handleOf(method: Method, response: Buffer): bigint | undefined {
  try {
    if (method === "ImportEmbedding") return BigInt(ImportEmbeddingResponse.decode(response).embedding?.id ?? 0);
    if (method === "EncodeText") return BigInt(EncodeTextResponse.decode(response).embedding?.id ?? 0);
  } catch {
    // not a response we can read: no handle
  }
  return undefined;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const deadlineMs = options.callDeadlineMs ?? 30_000;
  const random = new Random(options.seed);
  const { root, secret } = makeScratch(options.repoRoot);
  const fuzz = new FuzzEngine(root);
  const known: Knowledge = { state: "none", handles: [], serial: 0 };
  const report: FuzzReport = {
    seed: options.seed, cases: 0, calls: 0, seconds: 0, crashes: 0, hangs: 0, unclear: 0, findings: [], methods: {},
    statuses: {}, kinds: {}, engineStarts: 0,
  };
  let folder: FolderRecipe | undefined;
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const saved = new Set<string>();
  /** Every call that created a handle since the engine started (handle n was made by entry n - 1). */
  let creations: SetupCall[] = [];

  const record = (kind: FindingKind, caseNumber: number, calls: Call[], what: string, state: ModelState) => {
    const method = calls.map((call) => call.method).join("+");
    const finding: Finding = { kind, caseNumber, method, what: what.slice(0, 600) };
    if (options.saveDir) {
      const needed = Math.max(0, ...calls.map(largestHandle));
      const setup = needed > 0 && needed <= Math.min(MAX_SETUP, creations.length) ? creations.slice(0, needed) : undefined;
      const regression: RegressionCase = {
        description: `${kind} found by npm run fuzz (seed ${options.seed}, case ${caseNumber}): ${method}`,
        state, folder, setup, calls: calls.map((call) => ({ method: call.method, payloadBase64: call.payload.toString("base64") })),
        found: { seed: options.seed, caseNumber, kind, what: finding.what },
      };
      const digest = createHash("sha256").update(JSON.stringify([regression.state, regression.folder, regression.calls])).digest("hex").slice(0, 12);
      const name = `${kind}-${method.replace(/\+/g, "-")}-${digest}.json`;
      if (!saved.has(name)) {
        mkdirSync(options.saveDir, { recursive: true });
        writeFileSync(join(options.saveDir, name), JSON.stringify(regression, null, 2) + "\n");
        saved.add(name);
      }
      finding.saved = name;
    }
    report.findings.push(finding);
    report[kind === "crash" ? "crashes" : kind === "hang" ? "hangs" : "unclear"]++;
    log(`  ${kind.toUpperCase()} case ${caseNumber} ${method}: ${finding.what}`);
  };

  const restart = async () => {
    await fuzz.stop();
    await fuzz.start();
    known.handles = [];
    creations = [];
    await fuzz.setState(known.state);
  };

  try {
    await fuzz.start();
    creations = [];
    for (let caseNumber = 0; caseNumber < options.cases && elapsed() < options.seconds; caseNumber++) {
      report.cases++;
      // Now and then another model state: nothing loaded, the full tiny pipeline, a transformer alone.
      if (caseNumber % 150 === 0 || random.chance(0.005)) {
        known.state = random.pick(["none", "pipeline", "pipeline", "tiny-a"] as const);
        await fuzz.setState(known.state);
        known.handles = [];
      }
      if (known.handles.length > 200) {
        await fuzz.engine!.client.release(known.handles.map(Number));
        known.handles = [];
      }
      const roll = random.float();
      let kind: string;
      let calls: Call[];
      if (roll < 0.5) {
        kind = "structured";
        calls = [structuredCall(random, known)];
      } else if (roll < 0.8) {
        kind = "mutated";
        const base = structuredCall(random, known);
        calls = [{ method: base.method, payload: mutate(random, base.payload) }];
      } else if (roll < 0.95) {
        kind = "checkpoint";
        folder = randomRecipe(random, options.repoRoot);
        buildFolder(options.repoRoot, folder, join(root, SCRATCH.case), secret);
        const method = random.pick(["LoadModel", "LoadModel", "InspectModel", "ConvertModel"] as const);
        const call = structuredCall(random, known, method);
        // Point the request at the broken folder (field 1 is model_dir / source_dir in all three).
        call.payload = Buffer.concat([call.payload, Buffer.from([0x0a, SCRATCH.case.length]), Buffer.from(SCRATCH.case)]);
        calls = [call];
      } else {
        kind = "burst";
        calls = Array.from({ length: random.int(2, 8) }, () => structuredCall(random, known));
      }
      report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
      calls = calls.filter((call) => call.method !== "ConvertModel" || convertTargetIsSafe(call.payload));
      if (calls.length === 0) continue;

      const client = fuzz.client!;
      const results: CallResult[] = await Promise.all(calls.map((call) => rawCall(client, call.method, call.payload, deadlineMs)));
      report.calls += calls.length;
      const shutdownAsked = calls.some((call, i) => call.method === "Shutdown" && results[i]!.code === grpc.status.OK);
      const verdicts: Verdict[] = results.map((result, i) => judge(calls[i]!.method, result, deadlineMs));
      for (const [i, result] of results.entries()) {
        const method = calls[i]!.method;
        report.methods[method] = (report.methods[method] ?? 0) + 1;
        const name = grpc.status[result.code] ?? String(result.code);
        report.statuses[name] = (report.statuses[name] ?? 0) + 1;
        if (result.code === grpc.status.OK) {
          for (const response of result.responses) {
            const handle = handleOf(method, response);
            if (handle !== undefined && handle > 0n) {
              known.handles.push(handle);
              creations.push({ state: known.state, method, payloadBase64: calls[i]!.payload.toString("base64") });
            }
          }
        }
      }

      if (shutdownAsked) {
        // Shutdown answered: the engine must now exit 0 within its grace period.
        const exit = await fuzz.engine!.waitForExit(SHUTDOWN_GRACE_MS + 5000);
        if (exit?.code !== 0) record(exit ? "crash" : "hang", caseNumber, calls, exit ? `engine exited ${JSON.stringify(exit)} after Shutdown` : "Shutdown answered but the engine did not exit", known.state);
        await restart();
        continue;
      }
      const suspicious = results.some((result) => result.code !== grpc.status.OK && result.code !== grpc.status.INVALID_ARGUMENT && result.code !== grpc.status.NOT_FOUND);
      if (await fuzz.died(suspicious ? 300 : 0)) {
        const exit = fuzz.engine?.exit;
        record("crash", caseNumber, calls, `engine exited (${exit?.signal ?? `code ${exit?.code}`}); stderr: ${fuzz.stderr()}`, known.state);
        await restart();
        continue;
      }
      for (const [i, verdict] of verdicts.entries()) {
        if (verdict.kind === "hang") {
          const answers = await rawCall(client, "Health", Buffer.alloc(0), 5000);
          record("hang", caseNumber, calls, `${verdict.what}${answers.code === grpc.status.OK ? "" : "; Health did not answer either"}`, known.state);
          if (answers.code !== grpc.status.OK) {
            process.kill(fuzz.engine!.pid!, "SIGKILL");
            await restart();
          }
          break;
        }
        if (verdict.kind === "unclear") record("unclear", caseNumber, [calls[i]!], verdict.what, known.state);
      }
      if (caseNumber > 0 && caseNumber % 2000 === 0) {
        // Recycle the engine now and then with SIGTERM during a call: it must still exit promptly.
        const { honoured, ms } = await fuzz.terminate(structuredCall(random, known));
        if (!honoured) record("hang", caseNumber, calls, `SIGTERM not honoured within ${ms} ms`, known.state);
        await restart();
      }
      if (caseNumber % 500 === 0) {
        rmSync(join(root, SCRATCH.out), { recursive: true, force: true });
        mkdirSync(join(root, SCRATCH.out, "existing"), { recursive: true });
        log(`  ${caseNumber} cases, ${elapsed().toFixed(0)} s, ${report.crashes} crashes, ${report.hangs} hangs, ${report.unclear} unclear`);
      }
    }
    const { honoured, ms } = await fuzz.terminate(structuredCall(random, known));
    if (!honoured) record("hang", report.cases, [], `SIGTERM not honoured within ${ms} ms`, known.state);
  } finally {
    await fuzz.stop();
    report.engineStarts = fuzz.starts;
    rmSync(root, { recursive: true, force: true });
    removeSharedFiles();
  }
  report.seconds = elapsed();
  return report;
}
