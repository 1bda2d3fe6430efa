import * as grpc from "@grpc/grpc-js";

import {
  type ConvertProgress,
  type ConvertSummary,
  type DenoiseRequest,
  type DenoiseResponse,
  type EmbeddingHandle,
  EngineService,
  GetInfoRequest,
  type GetInfoResponse,
  type HealthResponse,
  type InspectModelResponse,
  LoadOptions,
  type LoadProgress,
  type ModelSummary,
  Quantization,
  type Tensor,
  type UnloadResponse,
} from "../generated/nucleus/engine/v1/engine.js";
import { DeadlineKeeper } from "./deadlines.js";
import { decodeDenoiseResponse, encodeDenoiseRequest } from "./denoise-codec.js";
import { SharedDenoiseChannel } from "./shared-memory.js";
import { EngineCallError } from "./errors.js";

type Service = typeof EngineService;
type MethodName = keyof Service;
type RequestOf<M extends MethodName> = Parameters<Service[M]["requestSerialize"]>[0];
type ResponseOf<M extends MethodName> = ReturnType<Service[M]["responseDeserialize"]>;
type UnaryMethod = { [M in MethodName]: Service[M]["responseStream"] extends false ? M : never }[MethodName];
type StreamMethod = Exclude<MethodName, UnaryMethod>;

export interface CallOptions {
  /** Deadline for the whole call, in milliseconds (default: one proportional to the call's work; Infinity: none). */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Decides what a failed call means; the engine process manager turns failures into EngineDiedError. */
export type FailureClassifier = (method: string, error: grpc.ServiceError, timeoutMs?: number) => Promise<Error>;

const defaultClassifier: FailureClassifier = async (method, error, timeoutMs) => EngineCallError.from(method, error, timeoutMs);

export interface ClientOptions {
  /** The engine's token (nucleus-engine --token / NUCLEUS_ENGINE_TOKEN), sent as `authorization: Bearer TOKEN`. */
  token?: string;
  /** Default deadlines for calls that give none. */
  deadlines?: DeadlineKeeper;
  /**
   * Move Denoise tensors through a shared-memory file (for an engine on this machine); the channel turns itself
   * off when the engine cannot attach one. NUCLEUS_SHARED_MEMORY=off disables it.
   */
  sharedMemory?: boolean;
}

/** A typed promise client for nucleus.engine.v1.Engine over @grpc/grpc-js. */
export class EngineClient {
  private readonly client: grpc.Client;
  readonly deadlines: DeadlineKeeper;

  constructor(
    /** "unix:/path/to/socket" or "127.0.0.1:PORT". */
    readonly address: string,
    private readonly classify: FailureClassifier = defaultClassifier,
    private readonly options: ClientOptions = {},
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // Receive a whole response of tensors without pausing the engine for window updates every 64 KiB.
      "grpc-node.flow_control_window": 64 << 20,
    });
    this.deadlines = options.deadlines ?? new DeadlineKeeper();
    if (options.sharedMemory && process.env.NUCLEUS_SHARED_MEMORY !== "off") this.sharedDenoise = new SharedDenoiseChannel(this);
  }

  /** The shared-memory channel for Denoise tensors, when this client was asked to use one. */
  readonly sharedDenoise?: SharedDenoiseChannel;

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.options.token) metadata.set("authorization", `Bearer ${this.options.token}`);
    return metadata;
  }

  /** Calls a unary RPC by its ts-proto name (e.g. "getInfo"); Denoise goes through its copy-lean codec. */
  unary<M extends UnaryMethod>(method: M, request: RequestOf<M>, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const definition = EngineService[method];
    const timeoutMs = options.timeoutMs ?? this.deadlines.deadlineMs(method, request);
    const started = performance.now();
    const fast = method === "denoise";
    const serialize = (fast ? encodeDenoiseRequest : definition.requestSerialize) as (value: RequestOf<M>) => Buffer;
    const deserialize = (fast ? decodeDenoiseResponse : definition.responseDeserialize) as (value: Buffer) => ResponseOf<M>;
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        definition.path,
        serialize,
        deserialize,
        request,
        this.metadata(),
        callOptions(timeoutMs),
        (error, response) => {
          options.signal?.removeEventListener("abort", abort);
          if (error) {
            this.classify(definition.path, error, timeoutMs).then(reject, reject);
          } else {
            this.deadlines.observe(method, request, performance.now() - started);
            resolve(response as ResponseOf<M>);
          }
        },
      );
      const abort = () => call.cancel();
      options.signal?.addEventListener("abort", abort, { once: true });
    });
  }

  /**
   * Calls a server-streaming RPC and yields its messages. Without an explicit deadline the call fails when no
   * message arrives for the policy's loadIdleMs.
   */
  async *stream<M extends StreamMethod>(
    method: M,
    request: RequestOf<M>,
    options: CallOptions = {},
  ): AsyncGenerator<ResponseOf<M>> {
    const definition = EngineService[method];
    const call = this.client.makeServerStreamRequest(
      definition.path,
      definition.requestSerialize as (value: RequestOf<M>) => Buffer,
      definition.responseDeserialize as (value: Buffer) => ResponseOf<M>,
      request,
      this.metadata(),
      callOptions(options.timeoutMs ?? Infinity),
    );
    const idleMs = options.timeoutMs === undefined ? this.deadlines.policy.loadIdleMs : Infinity;
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const rearm = () => {
      clearTimeout(timer);
      if (Number.isFinite(idleMs)) timer = setTimeout(() => ((idle = true), call.cancel()), idleMs);
    };
    const abort = () => call.cancel();
    options.signal?.addEventListener("abort", abort, { once: true });
    rearm();
    try {
      for await (const message of call) {
        rearm();
        yield message as ResponseOf<M>;
      }
    } catch (error) {
      if (idle) {
        throw new EngineCallError(definition.path, grpc.status.DEADLINE_EXCEEDED, `no progress for ${Math.round(idleMs / 1000)} s; the engine may be stuck`);
      }
      throw await this.classify(definition.path, error as grpc.ServiceError);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", abort);
    }
  }

  getInfo(request: Partial<GetInfoRequest> = {}, options?: CallOptions): Promise<GetInfoResponse> {
    return this.unary("getInfo", GetInfoRequest.fromPartial(request), options);
  }

  health(options?: CallOptions): Promise<HealthResponse> {
    return this.unary("health", {}, options);
  }

  async shutdown(reason = "", options?: CallOptions): Promise<void> {
    await this.unary("shutdown", { reason }, options);
  }

  /** Loads model components; `onProgress` sees every progress event; resolves with the summary. */
  async loadModel(
    modelDir: string,
    options: Partial<LoadOptions> = {},
    onProgress?: (progress: LoadProgress) => void,
    callOptions?: CallOptions,
  ): Promise<ModelSummary> {
    const request = { modelDir, options: LoadOptions.fromPartial(options) };
    let summary: ModelSummary | undefined;
    for await (const event of this.stream("loadModel", request, callOptions)) {
      if (event.progress) onProgress?.(event.progress);
      if (event.summary) summary = event.summary;
    }
    if (!summary) throw new Error("LoadModel ended without a summary");
    this.deadlines.noteModel(summary);
    return summary;
  }

  /** Encodes token ids into an embedding handle; `hiddenLayer` 0 = the loaded default; `returnTensor` also sends it back. */
  async encodeText(
    tokenIds: number[],
    attentionMask: number[] = [],
    { hiddenLayer = 0, returnTensor = false, ...options }: CallOptions & { hiddenLayer?: number; returnTensor?: boolean } = {},
  ): Promise<{ handle: EmbeddingHandle; tensor?: Tensor }> {
    const response = await this.unary("encodeText", { tokenIds, attentionMask, hiddenLayer, returnTensor }, options);
    if (!response.embedding) throw new Error("EncodeText returned no handle");
    return { handle: response.embedding, tensor: response.tensor };
  }

  async importEmbedding(embedding: Tensor, mask?: Tensor, options?: CallOptions): Promise<EmbeddingHandle> {
    const response = await this.unary("importEmbedding", { embedding, mask }, options);
    if (!response.embedding) throw new Error("ImportEmbedding returned no handle");
    return response.embedding;
  }

  async denoise(
    latents: Tensor,
    grid: { height: number; width: number },
    timestep: number,
    conditioning: number[],
    options: CallOptions & {
      /**
       * Memory the predictions may be read into when they come through shared memory (one per conditioning,
       * reused from call to call by a sampling loop); their `data` are then views of it.
       */
      predictionsInto?: Uint8Array[];
    } = {},
  ): Promise<DenoiseResponse> {
    const request: DenoiseRequest = { latents, gridHeight: grid.height, gridWidth: grid.width, timestep, conditioning };
    const send = (message: DenoiseRequest) => this.unary("denoise", message, options);
    return (await this.sharedDenoise?.denoise(request, send, options.predictionsInto)) ?? send(request);
  }

  async attachSharedMemory(path: string, options?: CallOptions): Promise<{ buffer: number; sizeBytes: number }> {
    return this.unary("attachSharedMemory", { path }, options);
  }

  async detachSharedMemory(buffer: number, options?: CallOptions): Promise<boolean> {
    return (await this.unary("detachSharedMemory", { buffer }, options)).detached;
  }

  async release(handles: number[], options?: CallOptions): Promise<number> {
    return (await this.unary("release", { handles }, options)).released;
  }

  /** Drops loaded components (all when `components` is empty). */
  unload(components: string[] = [], options?: CallOptions): Promise<UnloadResponse> {
    return this.unary("unload", { components }, options);
  }

  /** Components, sizes and the memory each way of loading needs, from the folder's headers (nothing is loaded). */
  inspectModel(
    modelDir: string, options: Partial<LoadOptions> = {}, size: { width?: number; height?: number } = {}, callOptions?: CallOptions,
  ): Promise<InspectModelResponse> {
    return this.unary(
      "inspectModel", { modelDir, options: LoadOptions.fromPartial(options), width: size.width ?? 0, height: size.height ?? 0 }, callOptions,
    );
  }

  /** Writes a pre-quantized copy of a model folder; `onProgress` sees every progress event; resolves with the summary. */
  async convertModel(
    request: { sourceDir: string; targetDir: string; bits: number; textBits?: number; groupSize?: number; overwrite?: boolean },
    onProgress?: (progress: ConvertProgress) => void,
    callOptions?: CallOptions,
  ): Promise<ConvertSummary> {
    const spec = (bits: number | undefined) => (bits ? Quantization.fromPartial({ bits, groupSize: request.groupSize ?? 0 }) : undefined);
    const message = {
      sourceDir: request.sourceDir, targetDir: request.targetDir, transformer: spec(request.bits), experts: spec(request.bits),
      textEncoder: spec(request.textBits), overwrite: request.overwrite ?? false,
    };
    let summary: ConvertSummary | undefined;
    for await (const event of this.stream("convertModel", message, callOptions)) {
      if (event.progress) onProgress?.(event.progress);
      if (event.summary) summary = event.summary;
    }
    if (!summary) throw new Error("ConvertModel ended without a summary");
    return summary;
  }

  /** Waits until the channel is connected, or rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.sharedDenoise?.close();
    this.client.close();
  }
}

function callOptions(timeoutMs: number): grpc.CallOptions {
  return Number.isFinite(timeoutMs) && timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
}
