// The contract as written in proto/ (loaded at run time by @grpc/proto-loader) against the generated client
// and a real engine: same RPC names, paths and streaming kinds; a dynamic client works too.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as grpc from "@grpc/grpc-js";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { loadEngineServiceDefinition } from "../orchestrator/src/engine/proto-definition.js";
import { EngineService } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";

const EXPECTED_RPCS = {
  GetInfo: "unary",
  Health: "unary",
  Shutdown: "unary",
  LoadModel: "server-streaming",
  EncodeText: "unary",
  ImportEmbedding: "unary",
  Denoise: "unary",
  Decode: "unary",
  Release: "unary",
  Unload: "unary",
  InspectModel: "unary",
  ConvertModel: "server-streaming",
  AttachSharedMemory: "unary",
  DetachSharedMemory: "unary",
};

describe("engine contract", () => {
  test("proto/ declares exactly the contract's RPCs, and the generated client matches it", () => {
    const definition = loadEngineServiceDefinition();
    const declared = Object.fromEntries(
      Object.values(definition).map((method) => [
        method.path.split("/").pop(),
        method.requestStream ? "client-streaming" : method.responseStream ? "server-streaming" : "unary",
      ]),
    );
    assert.deepEqual(declared, EXPECTED_RPCS);
    const generated = Object.values(EngineService).map((method) => method.path).sort();
    assert.deepEqual(generated, Object.values(definition).map((method) => method.path).sort());
  });

  test("a dynamic client built from the .proto calls the engine", async () => {
    const engine = await LocalEngine.start();
    try {
      const Client = grpc.makeGenericClientConstructor(loadEngineServiceDefinition(), "Engine");
      const client = new Client(engine.ready.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
        GetInfo(request: object, callback: (error: grpc.ServiceError | null, response: Record<string, unknown>) => void): void;
      };
      const info = await new Promise<Record<string, unknown>>((resolve, reject) =>
        client.GetInfo({ self_check: true }, (error, response) => (error ? reject(error) : resolve(response))),
      );
      client.close();
      assert.equal(info.mlx_version, "0.32.4");
      assert.equal((info.self_check as { passed: boolean }).passed, true);
    } finally {
      await engine.stop();
    }
  });
});
