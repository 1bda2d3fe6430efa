// A client of the image service (nucleus.image.v1.Images), as `generate --server` uses it: the address as the
// ready line prints it ("unix:/path", a socket path, or host:port), the token as `authorization: Bearer TOKEN`.
import * as grpc from "@grpc/grpc-js";

import {
  type CancelResponse, type GenerateEvent, GenerateRequest, type GetInfoResponse, ImagesClient,
} from "../generated/nucleus/image/v1/images.js";

/** The server answered a call with an error status. */
export class ImageServerError extends Error {
  constructor(readonly code: grpc.status, readonly details: string, address: string) {
    super(code === grpc.status.UNAVAILABLE && /connect|No connection|ECONNREFUSED|ENOENT/i.test(details)
      ? `no image server answers at ${address} (${details}): start one with nucleus-image serve, or check --server / NUCLEUS_SERVER`
      : code === grpc.status.UNAUTHENTICATED
        ? `the server at ${address} refused the call: ${details} (set NUCLEUS_TOKEN to its token)`
        : `the server at ${address} answered ${grpc.status[code] ?? code}: ${details}`);
    this.name = "ImageServerError";
  }
}

/** "unix:/run/x.sock", "/run/x.sock" or "host:port" → a gRPC target. */
export function serverTarget(address: string): string {
  const trimmed = address.trim();
  if (trimmed.startsWith("unix:")) return trimmed;
  if (trimmed.startsWith("/") || trimmed.startsWith(".")) return `unix:${trimmed}`;
  if (/^[a-z]+:\/\//i.test(trimmed)) {
    throw new Error(`--server ${address}: give the gRPC address as the server's ready line prints it (unix:/path or host:port), not a URL`);
  }
  return trimmed;
}

export class ImagesConnection {
  private readonly client: ImagesClient;

  constructor(readonly address: string, private readonly token = process.env.NUCLEUS_TOKEN || undefined) {
    this.client = new ImagesClient(serverTarget(address), grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
    });
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.token) metadata.set("authorization", `Bearer ${this.token}`);
    return metadata;
  }

  private failure(error: unknown): Error {
    const status = error as grpc.ServiceError;
    return typeof status?.code === "number" ? new ImageServerError(status.code, status.details ?? status.message, this.address) : (error as Error);
  }

  /** Runs a job and yields its events; aborting `signal` cancels the call (and so the job). */
  async *generate(request: Partial<GenerateRequest>, signal?: AbortSignal): AsyncGenerator<GenerateEvent> {
    const call = this.client.generate(GenerateRequest.fromPartial(request), this.metadata());
    const abort = () => call.cancel();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      for await (const event of call) yield event as GenerateEvent;
    } catch (error) {
      throw this.failure(error);
    } finally {
      signal?.removeEventListener("abort", abort);
      call.cancel();
    }
  }

  cancel(jobId: string): Promise<CancelResponse> {
    return new Promise((resolve, reject) =>
      this.client.cancel({ jobId }, this.metadata(), (error, response) => (error ? reject(this.failure(error)) : resolve(response))));
  }

  getInfo(timeoutMs = 30_000): Promise<GetInfoResponse> {
    return new Promise((resolve, reject) =>
      this.client.getInfo({}, this.metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => (error ? reject(this.failure(error)) : resolve(response))));
  }

  close(): void {
    this.client.close();
  }
}
