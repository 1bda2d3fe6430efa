// Reference server for the RPC benchmark: the same nucleus.engine.v1 GetInfo/Health answered by @grpc/grpc-js in
// a Node process (no MLX work), on a Unix socket. It measures the floor a Node gRPC server gives on this machine.
import * as grpc from "@grpc/grpc-js";

import { EngineService, type GetInfoResponse } from "../../orchestrator/src/generated/nucleus/engine/v1/engine.js";

const socket = process.argv[2];
if (!socket) throw new Error("usage: grpc-js-engine-stub.js SOCKET_PATH");

const started = performance.now();
const info: GetInfoResponse = {
  engineVersion: "reference",
  mlxVersion: "none",
  backend: "cpu",
  deviceName: "grpc-js stub",
  memory: { totalBytes: 1, activeBytes: 0, peakBytes: 0, limitBytes: 1, cacheBytes: 0, peakRssBytes: 0 },
  selfCheck: undefined,
  loadedComponents: [],
  protocol: "nucleus.engine.v1",
  pid: process.pid,
  uptimeSeconds: 0,
  benchmark: undefined,
  modelDir: "",
};

const server = new grpc.Server();
server.addService(EngineService, {
  getInfo: (_call: unknown, callback: grpc.sendUnaryData<GetInfoResponse>) =>
    callback(null, { ...info, uptimeSeconds: (performance.now() - started) / 1000 }),
  health: (_call: unknown, callback: grpc.sendUnaryData<object>) =>
    callback(null, { serving: true, uptimeSeconds: 0, inFlightCalls: 1 }),
} as unknown as grpc.UntypedServiceImplementation);
server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
  process.stdout.write(JSON.stringify({ event: "ready", address: `unix:${socket}` }) + "\n");
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
