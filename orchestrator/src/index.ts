// nucleus-image as a library: the engine process manager and its typed gRPC client.
export { EngineClient, type CallOptions } from "./engine/client.js";
export { EngineCallError, EngineDiedError, EngineStartError, type EngineExit } from "./engine/errors.js";
export { locateEngine, type EngineLaunch } from "./engine/locate.js";
export { ENGINE_PROTO, loadEngineServiceDefinition } from "./engine/proto-definition.js";
export { LocalEngine, liveEngines, type ReadyLine, type StartOptions } from "./engine/process.js";
export { runDoctor, type DoctorReport } from "./cli/doctor.js";
export * as proto from "./generated/nucleus/engine/v1/engine.js";
