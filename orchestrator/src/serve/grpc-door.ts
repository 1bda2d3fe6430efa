// The gRPC door of the image service: nucleus.image.v1.Images (proto/nucleus/image/v1/images.proto) on grpc-js.
import * as grpc from "@grpc/grpc-js";

import {
  type CancelRequest, type CancelResponse, type GenerateEvent, type GenerateRequest, type GetInfoRequest, type GetInfoResponse,
  ImagesService, type Timings,
} from "../generated/nucleus/image/v1/images.js";
import type { TokenCheck } from "./auth.js";
import { JobNotFoundError, grpcStatusOf } from "./errors.js";
import type { ImageService } from "./image-service.js";
import { serviceInfo } from "./info.js";
import type { JobEvent, JobTimings } from "./job.js";
import type { FieldNames, JobInput } from "./job-request.js";

/** Requests are small (prompts of at most 32,768 characters); images going out may be large. */
export const MAX_REQUEST_BYTES = 1 << 20;

const FIELD_NAMES: FieldNames = {
  negative: "negative_prompt", systemPrompt: "system_prompt", cfg: "guidance", previewEvery: "preview_every",
};

/**
 * The proto3 float `guidance` as the decimal it was written as: 3.7 arrives as 3.700000047…, and the CLI's and
 * HTTP's 3.7 must give the same image, so the shortest decimal that is the same float32 is used.
 */
export function float32Decimal(value: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === Math.fround(value)) return candidate;
  }
  return value;
}

export function jobInputOf(request: GenerateRequest): JobInput {
  return {
    prompt: request.prompt,
    negative: request.negativePrompt,
    systemPrompt: request.noSystemPrompt ? null : request.systemPrompt,
    width: request.width, height: request.height, steps: request.steps,
    cfg: request.guidance === undefined ? undefined : float32Decimal(request.guidance),
    seed: request.seed, count: request.count, previewEvery: request.previewEvery,
    format: request.format, metadata: request.metadata, quality: request.quality,
  };
}

export const timingsMessage = (t: JobTimings): Timings => ({
  queuedSeconds: t.queuedMs / 1000, loadSeconds: t.loadMs / 1000, perStepSeconds: t.perStepMs / 1000,
  stepsSeconds: t.stepsMs / 1000, decodeSeconds: t.decodeMs / 1000, totalSeconds: t.totalMs / 1000,
  denoiseComputeSeconds: t.denoiseComputeMs / 1000,
});

function eventMessage(jobId: string, event: JobEvent): GenerateEvent {
  switch (event.type) {
    case "queued":
      return { jobId, queued: { position: event.position } };
    case "progress":
      return {
        jobId,
        progress: {
          index: event.index, step: event.step, total: event.total, elapsedSeconds: event.elapsedMs / 1000,
          etaSeconds: event.etaMs / 1000, preview: event.preview ?? Buffer.alloc(0),
        },
      };
    case "image":
      return {
        jobId,
        image: {
          index: event.index, seed: event.seed, data: event.data, metadataJson: event.metadataJson, format: event.format,
          width: event.width, height: event.height, timings: timingsMessage(event.timings), memory: event.memory,
        },
      };
    case "done":
      return { jobId, done: { images: event.images, timings: timingsMessage(event.timings), memory: event.memory } };
  }
}

function authorization(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  return value === undefined ? undefined : String(value);
}

export function imagesServer(service: ImageService, token: TokenCheck): grpc.Server {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
    "grpc.max_send_message_length": -1,
  });
  server.addService(ImagesService, {
    generate(call: grpc.ServerWritableStream<GenerateRequest, GenerateEvent>) {
      let jobId: string | undefined;
      try {
        token.check(authorization(call.metadata));
        const job = service.submit(jobInputOf(call.request), (event, job) => {
          if (!call.cancelled) call.write(eventMessage(job.id, event));
        }, FIELD_NAMES);
        jobId = job.id;
        job.finished.then(
          () => call.end(),
          (error: unknown) => call.cancelled || call.emit("error", grpcStatusOf(error)),
        );
      } catch (error) {
        call.emit("error", grpcStatusOf(error));
        return;
      }
      call.on("cancelled", () => service.cancel(jobId!, "its client closed the call"));
    },

    cancel(call: grpc.ServerUnaryCall<CancelRequest, CancelResponse>, callback: grpc.sendUnaryData<CancelResponse>) {
      try {
        token.check(authorization(call.metadata));
        const outcome = service.cancel(call.request.jobId, "Cancel was called");
        if (!outcome) throw new JobNotFoundError(call.request.jobId);
        callback(null, outcome);
      } catch (error) {
        callback(grpcStatusOf(error));
      }
    },

    getInfo(call: grpc.ServerUnaryCall<GetInfoRequest, GetInfoResponse>, callback: grpc.sendUnaryData<GetInfoResponse>) {
      try {
        token.check(authorization(call.metadata));
      } catch (error) {
        callback(grpcStatusOf(error));
        return;
      }
      serviceInfo(service).then((info) => callback(null, info), (error: unknown) => callback(grpcStatusOf(error)));
    },
  });
  return server;
}

/** Binds `address` ("unix:/path" or "host:port"); resolves with the port (0 for a socket). */
export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/** Lets calls in flight end for `graceMs`, then closes the rest. */
export async function stopServer(server: grpc.Server, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
