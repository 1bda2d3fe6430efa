import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

/** "Denoise" from "/nucleus.engine.v1.Engine/Denoise": what users see instead of method paths. */
export function rpcName(method: string): string {
  return method.slice(method.lastIndexOf("/") + 1) || method;
}

function stderrSection(stderr: string, always = false): string {
  if (stderr) return `\n--- engine stderr (last lines) ---\n${stderr}`;
  return always ? "\n(the engine wrote nothing on stderr)" : "";
}

/** The engine could not be started: missing binary, bad launch setup, exited before ready, or ready timeout. */
export class EngineStartError extends Error {
  constructor(
    message: string,
    readonly stderr: string = "",
  ) {
    super(message + stderrSection(stderr));
    this.name = "EngineStartError";
  }
}

export const OUT_OF_MEMORY_ADVICE =
  "it may have run out of memory: use less with --quantize 4 (or 8), --text-quantize 8, --low-memory or a smaller " +
  "--width/--height (library: the load options transformer/experts/textEncoder quantization and lowMemory)";

/** The engine process ended while (or before) a call was being served. */
export class EngineDiedError extends Error {
  constructor(
    /** The RPC's full path. */
    readonly method: string,
    readonly exit: EngineExit,
    readonly stderr: string,
    /** Why it died when we know better than the exit status (e.g. we stopped an engine that stopped answering). */
    readonly cause?: string,
  ) {
    super(
      `the engine process ${cause ?? describeExit(exit)} during ${rpcName(method)}; ${cause ? "" : `${OUT_OF_MEMORY_ADVICE}. `}` +
        "Start it again to continue (library: await model.restart(), or engine.restart())" + stderrSection(stderr, true),
    );
    this.name = "EngineDiedError";
  }
}

/** The engine answered a call with a non-OK gRPC status (or the call ran past its deadline). */
export class EngineCallError extends Error {
  constructor(
    /** The RPC's full path. */
    readonly method: string,
    readonly code: GrpcStatus,
    readonly details: string,
    timeoutMs?: number,
  ) {
    super(
      code === GrpcStatus.DEADLINE_EXCEEDED && timeoutMs !== undefined
        ? `${rpcName(method)} did not finish within its deadline of ${Math.round(timeoutMs / 1000)} s: the engine may be stuck or far slower than expected`
        : code === GrpcStatus.UNAUTHENTICATED
          ? `the engine refused ${rpcName(method)}: ${details} (give the engine's token: NUCLEUS_ENGINE_TOKEN or the token option)`
          : `${rpcName(method)} failed (${GrpcStatus[code] ?? code}): ${details}`,
    );
    this.name = "EngineCallError";
  }

  static from(method: string, error: ServiceError, timeoutMs?: number): EngineCallError {
    return new EngineCallError(method, error.code, error.details || error.message, timeoutMs);
  }
}

export interface EngineExit {
  code: number | null;
  signal: string | null;
}

export function describeExit(exit: EngineExit): string {
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}
