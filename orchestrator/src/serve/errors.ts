// One mapping from what can go wrong in the service to the doors' statuses: gRPC codes and HTTP status codes.
import { status as GrpcStatus } from "@grpc/grpc-js";

import { ImageFormatError } from "../image/encode.js";
import { ModelFolderError } from "../pipeline/model-folder.js";
import { GenerateOptionsError } from "../request/generate-request.js";
import { UnauthenticatedError } from "./auth.js";
import { QueueFullError, ServiceUnavailableError } from "./image-service.js";
import { JobCancelledError } from "./job.js";

export class JobNotFoundError extends Error {
  constructor(id: string) {
    super(`no job ${JSON.stringify(id)} on this server (job ids come with the first event of Generate)`);
    this.name = "JobNotFoundError";
  }
}

const KINDS: [new (...args: never[]) => Error, GrpcStatus, number][] = [
  [GenerateOptionsError, GrpcStatus.INVALID_ARGUMENT, 400],
  [ImageFormatError, GrpcStatus.INVALID_ARGUMENT, 400],
  [ModelFolderError, GrpcStatus.FAILED_PRECONDITION, 400],
  [UnauthenticatedError, GrpcStatus.UNAUTHENTICATED, 401],
  [JobNotFoundError, GrpcStatus.NOT_FOUND, 404],
  [QueueFullError, GrpcStatus.RESOURCE_EXHAUSTED, 429],
  [JobCancelledError, GrpcStatus.CANCELLED, 499],
  [ServiceUnavailableError, GrpcStatus.UNAVAILABLE, 503],
];

/** Messages are cut to 2 KiB, like the engine's. */
const MAX_MESSAGE = 2048;

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 1)}…`;
}

export function grpcStatusOf(error: unknown): { code: GrpcStatus; details: string } {
  const kind = KINDS.find(([type]) => error instanceof type);
  return { code: kind?.[1] ?? GrpcStatus.INTERNAL, details: errorMessage(error) };
}

export function httpStatusOf(error: unknown): number {
  return KINDS.find(([type]) => error instanceof type)?.[2] ?? 500;
}
