import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";

import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { execa, type ResultPromise } from "execa";

import { EngineClient } from "./client.js";
import { DEFAULT_DEADLINES, DeadlineKeeper, type DeadlinePolicy } from "./deadlines.js";
import { EngineCallError, EngineDiedError, EngineStartError, describeExit, type EngineExit } from "./errors.js";
import { type EngineLaunch, launchCommand, locateEngine } from "./locate.js";
import { makeSocketFolder, removeStaleSocketFolders } from "./socket-folders.js";

/** The engine's ready line (one JSON object on its standard output). */
export interface ReadyLine {
  event: "ready";
  address: string;
  port: number;
  pid: number;
  engine_version: string;
  mlx_version: string;
  backend: string;
  protocol: string;
}

export interface StartOptions {
  /** Which binary to run; default: NUCLEUS_ENGINE_BIN or the build recorded by `npm run setup`. */
  launch?: Partial<EngineLaunch>;
  /** Listen on 127.0.0.1:port (0 = any free port) instead of a private Unix socket. */
  port?: number;
  /** Listen on this Unix socket path instead of a fresh private one. */
  socketPath?: string;
  /** How long to wait for the ready line (default 30 s). */
  readyTimeoutMs?: number;
  /** How long in-flight calls may finish when the engine is asked to stop (default 10 s). */
  shutdownGraceMs?: number;
  /** The largest message the engine receives or sends, in MiB (the engine's --max-message-mb; default 512). */
  maxMessageMb?: number;
  /** Receives every line the engine writes to standard error. */
  onStderr?: (line: string) => void;
  /** Extra environment variables for the engine. */
  env?: Record<string, string>;
  /**
   * The token clients must send (`authorization: Bearer TOKEN`). Default: NUCLEUS_ENGINE_TOKEN when set, else a
   * fresh random one when listening on TCP (a Unix socket is private to this user already).
   */
  token?: string;
  /** Deadlines of engine calls (see DEFAULT_DEADLINES). */
  deadlines?: Partial<DeadlinePolicy>;
  /**
   * Health checks while the engine runs: after `misses` checks in a row without an answer within `timeoutMs`
   * the engine counts as stuck and is stopped, so calls fail instead of waiting for ever. false turns it off.
   */
  watchdog?: { intervalMs: number; timeoutMs: number; misses: number } | false;
}

export const DEFAULT_WATCHDOG = { intervalMs: 15_000, timeoutMs: 10_000, misses: 2 };

const STDERR_LINES_KEPT = 200;
const live = new Set<LocalEngine>();

/**
 * One engine daemon spawned and supervised by this process. The engine never outlives us: execa kills it when
 * we exit or get a signal, and the engine itself exits when its standard input (our pipe) closes, which covers
 * the case where we are killed with SIGKILL.
 */
export class LocalEngine {
  private child?: ResultPromise;
  private exitState?: EngineExit;
  private exited: Promise<EngineExit> = Promise.resolve({ code: null, signal: null });
  private readonly stderrLines: string[] = [];
  private socketDir?: string;
  private stopping = false;
  private currentClient?: EngineClient;
  private currentReady?: ReadyLine;
  private readonly token?: string;
  /** Set when we stopped the engine ourselves because it stopped answering. */
  private stuckCause?: string;
  private watchdogTimer?: NodeJS.Timeout;
  /** Milliseconds from spawn to the ready line in the last start. */
  startToReadyMs = 0;

  private constructor(private readonly options: StartOptions) {
    const fromEnvironment = options.env?.NUCLEUS_ENGINE_TOKEN ?? process.env.NUCLEUS_ENGINE_TOKEN;
    this.token = options.token ?? (fromEnvironment || undefined) ??
      (options.port !== undefined ? randomBytes(32).toString("base64url") : undefined);
  }

  /** The token clients of this engine must send, if it has one (always when it listens on TCP). */
  get authToken(): string | undefined {
    return this.token;
  }

  static async start(options: StartOptions = {}): Promise<LocalEngine> {
    const engine = new LocalEngine(options);
    await engine.boot();
    return engine;
  }

  get client(): EngineClient {
    if (!this.currentClient) throw new EngineStartError("the engine is not running: call start() or restart()");
    return this.currentClient;
  }

  get ready(): ReadyLine {
    if (!this.currentReady) throw new EngineStartError("the engine is not running: call start() or restart()");
    return this.currentReady;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the engine process is alive. */
  get running(): boolean {
    return this.child !== undefined && this.exitState === undefined;
  }

  /** How the last engine process ended, if it did. */
  get exit(): EngineExit | undefined {
    return this.exitState;
  }

  /** Waits for the engine process to end; undefined if it still runs after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<EngineExit | undefined> {
    return Promise.race([this.exited, delay(timeoutMs, undefined, { ref: false }).then(() => undefined)]);
  }

  /** The engine's last lines of standard error. */
  stderrTail(lines = 40): string {
    return this.stderrLines.slice(-lines).join("\n");
  }

  /**
   * Checks that the engine answers Health within `timeoutMs`; if it does not (stopped, deadlocked), it is killed
   * and calls in flight fail with EngineDiedError. Returns whether it answered.
   */
  async ensureResponsive(timeoutMs: number): Promise<boolean> {
    if (!this.running || !this.currentClient) return false;
    try {
      await this.currentClient.health({ timeoutMs });
      return true;
    } catch {
      if (!this.running) return false;
      this.stuckCause = `stopped answering (no reply to Health within ${Math.round(timeoutMs / 1000)} s) and was stopped`;
      this.child?.kill("SIGKILL");
      await this.exited;
      return false;
    }
  }

  /** Stops the engine if it runs, then starts a fresh one. */
  async restart(): Promise<void> {
    await this.stop();
    await this.boot();
  }

  /** Asks the engine to shut down (Shutdown RPC), then escalates to SIGTERM and SIGKILL if it does not exit. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child && !this.exitState) {
      this.stopping = true;
      try {
        await this.currentClient?.shutdown("orchestrator stop", { timeoutMs: 2000 });
      } catch {
        this.child.kill("SIGTERM");
      }
      const exit = await Promise.race([this.exited, delay(graceMs, undefined, { ref: false }).then(() => undefined)]);
      if (!exit) {
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    this.release();
  }

  private release(): void {
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
    this.currentClient?.close();
    this.currentClient = undefined;
    this.currentReady = undefined;
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    this.socketDir = undefined;
    live.delete(this);
  }

  private async boot(): Promise<void> {
    const launch = locateEngine(this.options.launch);
    const { file, prefix } = launchCommand(launch);
    const listen: string[] = [];
    if (this.options.port !== undefined) {
      listen.push("--port", String(this.options.port));
    } else if (this.options.socketPath !== undefined) {
      listen.push("--socket", this.options.socketPath);
    } else {
      removeStaleSocketFolders();
      this.socketDir = makeSocketFolder();
      listen.push("--socket", join(this.socketDir, "engine.sock"));
    }
    const args = [...prefix, ...listen, "--exit-on-stdin-eof"];
    if (this.options.shutdownGraceMs !== undefined) args.push("--shutdown-grace-ms", String(this.options.shutdownGraceMs));
    if (this.options.maxMessageMb !== undefined) args.push("--max-message-mb", String(this.options.maxMessageMb));

    this.stopping = false;
    this.stuckCause = undefined;
    this.exitState = undefined;
    this.stderrLines.length = 0;
    const started = performance.now();
    const child = execa(file, args, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      buffer: false,
      reject: false,
      cleanup: true,
      // The token travels in the environment, not the command line, which other users can read.
      env: { ...this.options.env, NUCLEUS_ENGINE_TOKEN: this.token ?? "" },
    });
    this.child = child;
    live.add(this);
    this.exited = child.then(
      (result) => this.recordExit({ code: result.exitCode ?? null, signal: result.signal ?? null }),
      () => this.recordExit({ code: null, signal: null }),
    );
    createInterface({ input: child.stderr! }).on("line", (line) => {
      this.stderrLines.push(line);
      if (this.stderrLines.length > STDERR_LINES_KEPT) this.stderrLines.shift();
      this.options.onStderr?.(line);
    });

    const ready = await this.waitForReadyLine(child, this.options.readyTimeoutMs ?? 30_000);
    this.startToReadyMs = performance.now() - started;
    this.currentReady = ready;
    this.currentClient = new EngineClient(ready.address, (method, error, timeoutMs) => this.classify(method, error, timeoutMs), {
      token: this.token,
      deadlines: new DeadlineKeeper({ ...DEFAULT_DEADLINES, ...this.options.deadlines }),
      sharedMemory: true,  // the engine runs on this machine
    });
    try {
      await this.currentClient.health({ timeoutMs: 5000 });
    } catch (error) {
      child.kill("SIGKILL");
      await this.exited;
      this.release();
      throw new EngineStartError(`the engine printed its ready line but did not answer Health: ${String(error)}`, this.stderrTail());
    }
    this.startWatchdog();
  }

  private startWatchdog(): void {
    const watchdog = this.options.watchdog === undefined ? DEFAULT_WATCHDOG : this.options.watchdog;
    if (!watchdog) return;
    let misses = 0;
    let checking = false;
    this.watchdogTimer = setInterval(() => {
      if (checking || !this.running || this.stopping || !this.currentClient) return;
      checking = true;
      this.currentClient.health({ timeoutMs: watchdog.timeoutMs }).then(
        () => (misses = 0),
        () => {
          if (++misses >= watchdog.misses && this.running && !this.stopping) {
            this.stuckCause =
              `stopped answering (no reply to Health for ${Math.round((watchdog.misses * (watchdog.intervalMs + watchdog.timeoutMs)) / 1000)} s) and was stopped`;
            this.child?.kill("SIGKILL");
          }
        },
      ).finally(() => (checking = false));
    }, watchdog.intervalMs);
    this.watchdogTimer.unref();
  }

  private recordExit(exit: EngineExit): EngineExit {
    this.exitState = exit;
    return exit;
  }

  private waitForReadyLine(child: ResultPromise, timeoutMs: number): Promise<ReadyLine> {
    return new Promise<ReadyLine>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      let settled = false;
      const fail = async (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        lines.close();
        if (!this.exitState) child.kill("SIGKILL");
        await this.exited;
        await delay(20); // let the last stderr lines arrive
        this.release();
        reject(new EngineStartError(message, this.stderrTail()));
      };
      const timer = setTimeout(
        () => void fail(`the engine did not print its ready line within ${timeoutMs} ms (it was killed)`),
        timeoutMs,
      );
      lines.on("line", (line) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          return;
        }
        if ((parsed as ReadyLine)?.event === "ready" && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(parsed as ReadyLine);
        }
      });
      this.exited.then((exit) => void fail(`the engine ${describeExit(exit)} before it was ready`));
    });
  }

  private async classify(method: string, error: ServiceError, timeoutMs?: number): Promise<Error> {
    const transportFailure = [GrpcStatus.UNAVAILABLE, GrpcStatus.INTERNAL, GrpcStatus.UNKNOWN, GrpcStatus.CANCELLED];
    if (transportFailure.includes(error.code) && !this.stopping) {
      const waitMs = error.code === GrpcStatus.CANCELLED ? 50 : 1000;
      const exit = await Promise.race([this.exited, delay(waitMs, undefined, { ref: false }).then(() => undefined)]);
      if (exit && this.exitState) {
        await delay(20);
        return new EngineDiedError(method, exit, this.stderrTail(), this.stuckCause);
      }
    }
    return EngineCallError.from(method, error, timeoutMs);
  }
}

/** Engines started by this process that have not been stopped. */
export function liveEngines(): readonly LocalEngine[] {
  return [...live];
}
