import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

/** The engine could not be started: missing binary, bad launch setup, exited before ready, or ready timeout. */
export class EngineStartError extends Error {
  constructor(
    message: string,
    readonly stderr: string = "",
  ) {
    super(stderr ? `${message}\n--- engine stderr (last lines) ---\n${stderr}` : message);
    this.name = "EngineStartError";
  }
}

/** The engine process ended while (or before) a call was being served. */
export class EngineDiedError extends Error {
  constructor(
    readonly method: string,
    readonly exit: EngineExit,
    readonly stderr: string,
  ) {
    super(
      `the engine process ${describeExit(exit)} during ${method}; start a new engine (restart()) to continue` +
        (stderr ? `\n--- engine stderr (last lines) ---\n${stderr}` : ""),
    );
    this.name = "EngineDiedError";
  }
}

/** The engine answered a call with a non-OK gRPC status. */
export class EngineCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: GrpcStatus,
    readonly details: string,
  ) {
    super(`${method} failed with ${GrpcStatus[code] ?? code}: ${details}`);
    this.name = "EngineCallError";
  }

  static from(method: string, error: ServiceError): EngineCallError {
    return new EngineCallError(method, error.code, error.details || error.message);
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
