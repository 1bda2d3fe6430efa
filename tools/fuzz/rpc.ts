// Raw calls to any engine method with any bytes: the status, its message, the response messages and the time taken.
import * as grpc from "@grpc/grpc-js";

export const SERVICE = "/nucleus.engine.v1.Engine/";

export const METHODS = {
  GetInfo: "unary", Health: "unary", Shutdown: "unary", LoadModel: "stream", EncodeText: "unary",
  ImportEmbedding: "unary", Denoise: "unary", Decode: "unary", Release: "unary", Unload: "unary",
  InspectModel: "unary", ConvertModel: "stream", AttachSharedMemory: "unary", DetachSharedMemory: "unary",
} as const;

export type Method = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as Method[];

export interface CallResult {
  code: grpc.status;
  details: string;
  responses: Buffer[];
  elapsedMs: number;
}

const identity = (value: Buffer) => value;

/** One call with `payload` as the request bytes, ended by the client after `deadlineMs`. */
export function rawCall(client: grpc.Client, method: Method, payload: Buffer, deadlineMs: number): Promise<CallResult> {
  const started = performance.now();
  const options = { deadline: Date.now() + deadlineMs };
  const path = SERVICE + method;
  return new Promise((resolve) => {
    const done = (code: grpc.status, details: string, responses: Buffer[]) =>
      resolve({ code, details, responses, elapsedMs: performance.now() - started });
    if (METHODS[method] === "unary") {
      client.makeUnaryRequest(path, identity, identity, payload, new grpc.Metadata(), options, (error, value) =>
        error ? done(error.code, error.details, []) : done(grpc.status.OK, "", value ? [value] : []),
      );
      return;
    }
    const responses: Buffer[] = [];
    const stream = client.makeServerStreamRequest(path, identity, identity, payload, new grpc.Metadata(), options);
    stream.on("data", (message: Buffer) => responses.push(message));
    stream.on("error", (error: grpc.ServiceError) => done(error.code, error.details, responses));
    stream.on("end", () => done(grpc.status.OK, "", responses));
  });
}

export function connect(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 512 << 20,
    "grpc.max_send_message_length": 512 << 20,
  });
}
