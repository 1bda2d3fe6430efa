import * as grpc from "@grpc/grpc-js";

import {
  type DenoiseResponse,
  type EmbeddingHandle,
  EngineService,
  GetInfoRequest,
  type GetInfoResponse,
  type HealthResponse,
  LoadOptions,
  type LoadProgress,
  type ModelSummary,
  type Tensor,
} from "../generated/nucleus/engine/v1/engine.js";
import { decodeDenoiseResponse, encodeDenoiseRequest } from "./denoise-codec.js";
import { EngineCallError } from "./errors.js";

type Service = typeof EngineService;
type MethodName = keyof Service;
type RequestOf<M extends MethodName> = Parameters<Service[M]["requestSerialize"]>[0];
type ResponseOf<M extends MethodName> = ReturnType<Service[M]["responseDeserialize"]>;
type UnaryMethod = { [M in MethodName]: Service[M]["responseStream"] extends false ? M : never }[MethodName];
type StreamMethod = Exclude<MethodName, UnaryMethod>;

export interface CallOptions {
  /** Deadline for the whole call, in milliseconds. */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Decides what a failed call means; the engine process manager turns failures into EngineDiedError. */
export type FailureClassifier = (method: string, error: grpc.ServiceError) => Promise<Error>;

const defaultClassifier: FailureClassifier = async (method, error) => EngineCallError.from(method, error);

/** A typed promise client for nucleus.engine.v1.Engine over @grpc/grpc-js. */
export class EngineClient {
  private readonly client: grpc.Client;

  constructor(
    /** "unix:/path/to/socket" or "127.0.0.1:PORT". */
    readonly address: string,
    private readonly classify: FailureClassifier = defaultClassifier,
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // Receive a whole response of tensors without pausing the engine for window updates every 64 KiB.
      "grpc-node.flow_control_window": 64 << 20,
    });
  }

  /** Calls a unary RPC by its ts-proto name (e.g. "getInfo"); Denoise goes through its copy-lean codec. */
  unary<M extends UnaryMethod>(method: M, request: RequestOf<M>, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const definition = EngineService[method];
    const fast = method === "denoise";
    const serialize = (fast ? encodeDenoiseRequest : definition.requestSerialize) as (value: RequestOf<M>) => Buffer;
    const deserialize = (fast ? decodeDenoiseResponse : definition.responseDeserialize) as (value: Buffer) => ResponseOf<M>;
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        definition.path,
        serialize,
        deserialize,
        request,
        new grpc.Metadata(),
        callOptions(options),
        (error, response) => {
          options.signal?.removeEventListener("abort", abort);
          if (error) this.classify(definition.path, error).then(reject, reject);
          else resolve(response as ResponseOf<M>);
        },
      );
      const abort = () => call.cancel();
      options.signal?.addEventListener("abort", abort, { once: true });
    });
  }

  /** Calls a server-streaming RPC and yields its messages. */
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
      new grpc.Metadata(),
      callOptions(options),
    );
    const abort = () => call.cancel();
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      for await (const message of call) yield message as ResponseOf<M>;
    } catch (error) {
      throw await this.classify(definition.path, error as grpc.ServiceError);
    } finally {
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

  denoise(
    latents: Tensor,
    grid: { height: number; width: number },
    timestep: number,
    conditioning: number[],
    options?: CallOptions,
  ): Promise<DenoiseResponse> {
    return this.unary(
      "denoise",
      { latents, gridHeight: grid.height, gridWidth: grid.width, timestep, conditioning },
      options,
    );
  }

  async release(handles: number[], options?: CallOptions): Promise<number> {
    return (await this.unary("release", { handles }, options)).released;
  }

  /** Waits until the channel is connected, or rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.client.close();
  }
}

function callOptions(options: CallOptions): grpc.CallOptions {
  return options.timeoutMs ? { deadline: Date.now() + options.timeoutMs } : {};
}
