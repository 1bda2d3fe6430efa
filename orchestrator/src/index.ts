// nucleus-image as a library: NucleusImage (load once, generate many), the engine process manager and its typed
// gRPC client, and the pieces of the pipeline.
export { NucleusImage, type GenerateCallOptions, type LoadModelOptions } from "./nucleus-image.js";
export {
  GenerationCancelledError,
  GenerateOptionsError,
  type GenerateOptions,
  type GenerateResult,
  type StepProgress,
} from "./pipeline/generate.js";
export { readLatents, readPromptEmbedding, type PromptEmbedding } from "./pipeline/inputs.js";
export { readModelFolder, type ModelFolder } from "./pipeline/model-folder.js";
export { flowMatchSchedule, type SchedulerConfig } from "./sampling/scheduler.js";
export { initialLatents, standardNormal } from "./sampling/noise.js";
export { decodePng, encodePng, readPngText, type RGBImage } from "./image/png.js";
export { readSafetensors, writeSafetensors, type TensorData } from "./tensors/safetensors.js";
export { EngineClient, type CallOptions } from "./engine/client.js";
export { EngineCallError, EngineDiedError, EngineStartError, type EngineExit } from "./engine/errors.js";
export { locateEngine, type EngineLaunch } from "./engine/locate.js";
export { ENGINE_PROTO, loadEngineServiceDefinition } from "./engine/proto-definition.js";
export { LocalEngine, liveEngines, type ReadyLine, type StartOptions } from "./engine/process.js";
export { runDoctor, type DoctorReport } from "./cli/doctor.js";
export * as proto from "./generated/nucleus/engine/v1/engine.js";
