// nucleus-image as a library: NucleusImage (load once, generate many), the engine process manager and its typed
// gRPC client, and the pieces of the pipeline.
export {
  ModelClosedError, NucleusImage, type EncodeOptions, type EncodedPrompt, type GenerateCallOptions, type ImagePreview,
  type ImageResult, type LoadModelOptions, type SaveOptions,
} from "./nucleus-image.js";
export {
  GenerationCancelledError,
  type GenerateOptions,
  type GenerateResult,
  type StepProgress,
} from "./pipeline/generate.js";
export {
  GenerateOptionsError, resolveGenerateRequest, type GenerateRequest, type PromptInput, type ResolvedGenerateRequest,
} from "./request/generate-request.js";
export { GENERATION_LIMITS, IMAGE_FORMATS, PROMPT_LIMITS, QUANTIZATION_BITS, type NumberLimit } from "./request/limits.js";
export { resolveModel, ModelNotFoundError, type ResolvedModel } from "./model/resolve-model.js";
export { HubModelNotFoundError, hubCacheDirectory } from "./model/hf-cache.js";
export { readLatents, readPromptEmbedding, type PromptEmbedding } from "./pipeline/inputs.js";
export { readModelFolder, readTextModelFolder, type ModelFolder, type TextModelFolder } from "./pipeline/model-folder.js";
export { flowMatchSchedule, type SchedulerConfig } from "./sampling/scheduler.js";
export { initialLatents, standardNormal } from "./sampling/noise.js";
export { decodePng, encodePng, readPngText, type RGBImage } from "./image/png.js";
export { encodeImage, imageFormatOf, readImageMetadata, ImageFormatError } from "./image/encode.js";
export { metadataText, type ImageMetadata } from "./image/metadata.js";
export { OutputExistsError, OutputPathError } from "./files/output.js";
export { readSafetensors, writeSafetensors, type TensorData } from "./tensors/safetensors.js";
export { EngineClient, type CallOptions, type ClientOptions } from "./engine/client.js";
export { DEFAULT_DEADLINES, type DeadlinePolicy } from "./engine/deadlines.js";
export { EngineCallError, EngineDiedError, EngineStartError, type EngineExit } from "./engine/errors.js";
export { locateEngine, type EngineLaunch } from "./engine/locate.js";
export { ENGINE_PROTO, loadEngineServiceDefinition } from "./engine/proto-definition.js";
export { LocalEngine, liveEngines, type ReadyLine, type StartOptions } from "./engine/process.js";
export { runDoctor, type DoctorReport } from "./cli/doctor.js";
export * as proto from "./generated/nucleus/engine/v1/engine.js";
export { ImagesConnection, ImageServerError } from "./serve/images-client.js";
export * as imagesProto from "./generated/nucleus/image/v1/images.js";
