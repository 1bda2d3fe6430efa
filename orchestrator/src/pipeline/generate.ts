// The sampling loop: CFG branches as one batched Denoise per step, the per-token norm rescale and the Euler
// update here, the VAE decode in the engine. Mirrors NucleusMoEImagePipeline given prompt embeddings.
import type { EngineClient } from "../engine/client.js";
import { DType, type Tensor } from "../generated/nucleus/engine/v1/engine.js";
import { eulerStep, guidedEulerStepFloat32, guidedPrediction, roundInPlace } from "../sampling/guidance.js";
import { initialLatents } from "../sampling/noise.js";
import { type ModelDType, rounder, roundBFloat16 } from "../sampling/precision.js";
import { flowMatchSchedule } from "../sampling/scheduler.js";
import { float32Tensor, float32View, fromProtoTensor, toFloat32, toProtoTensor } from "../tensors/convert.js";
import { float32Bytes, GuidedEulerWorkspace, guidedEulerStepWasm } from "../sampling/wasm/guided-euler.js";
import type { ModelFolder } from "./model-folder.js";
import type { RGBImage } from "../image/png.js";
import type { PromptFormatter } from "../text/prompt.js";
import { encodePrompt } from "./encode-prompt.js";
import { GenerateOptionsError, type PromptInput } from "../request/generate-request.js";

export { GenerateOptionsError, type PromptInput };

export interface GenerateOptions {
  prompt: PromptInput;
  /** The unconditional branch when cfg > 1: default "" for text prompts, required for embeddings. */
  negative?: PromptInput;
  /** System prompt for text prompts (undefined = the pipeline's default, null = none). */
  systemPrompt?: string | null;
  width: number;
  height: number;
  steps: number;
  cfg: number;
  /** Seed for the initial noise (ignored when `latents` is given). */
  seed?: number;
  /** Initial packed latents [S, C]. */
  latents?: Float32Array;
}

export interface StepProgress {
  step: number;
  total: number;
  elapsedMs: number;
  etaMs: number;
  sigma: number;
}

export interface GenerateResult {
  image: RGBImage;
  /** Final packed latents [S, C] (diffusers' output_type="latent"). */
  latents: Float32Array;
  grid: { height: number; width: number };
  seed?: number;
  timings: { totalMs: number; stepsMs: number; denoiseComputeMs: number; decodeMs: number };
}

export class GenerationCancelledError extends Error {
  constructor(readonly completedSteps: number) {
    super(`generation cancelled after ${completedSteps} step(s); nothing was written`);
    this.name = "GenerationCancelledError";
  }
}

/** Checks the size and returns the token grid. */
export function tokenGrid(model: ModelFolder, width: number, height: number): { height: number; width: number } {
  const unit = model.pixelsPerToken;
  for (const [name, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value <= 0 || value % unit !== 0) {
      throw new GenerateOptionsError(`${name} ${value} must be a positive multiple of ${unit} (e.g. ${Math.max(unit, Math.round(value / unit) * unit)})`);
    }
    if (value > 4096) throw new GenerateOptionsError(`${name} ${value} is larger than the supported 4096 pixels`);
  }
  return { height: height / unit, width: width / unit };
}

/** σ as the model sees it: diffusers divides the float timestep by 1000 in the latents' dtype. */
export function modelTimestep(timestep: number, dtype: ModelDType): number {
  return dtype === "bfloat16" ? roundBFloat16(roundBFloat16(timestep) / 1000) : Math.fround(Math.fround(timestep) / 1000);
}

/** One step's state before its Euler update: for previews of the predicted clean image (preview/latent-preview.ts). */
export interface StepPrediction {
  step: number;
  total: number;
  /** The packed latents x_σ the step started from, σ, and the (guided) model output in diffusers' sign. */
  latents: Float32Array;
  sigma: number;
  prediction: Float32Array;
  grid: { height: number; width: number };
}

/** The Denoise request tensor for packed latents [tokens, channels]. */
export function denoiseLatents(latents: Float32Array, tokens: number, channels: number): Tensor {
  return toProtoTensor(float32Tensor(latents, [tokens, channels]));
}

/** Buffers a sampling loop reuses from step to step, so that a step allocates nothing. */
export interface StepBuffers {
  /** The next latents (any buffer of the latents' size but `latents` itself). */
  into?: Float32Array;
  /**
   * Where the predictions are read to when they come through shared memory, and aligned copies of them when their
   * bytes arrive at offsets a Float32Array cannot view.
   */
  predictions?: Float32Array[];
  /** The WebAssembly step's memory, holding `into`, the latents and `predictions` (float32 with CFG). */
  workspace?: GuidedEulerWorkspace;
}

/**
 * One step of the sampler after a Denoise: the predictions (conditional first) -> CFG -> Euler -> next latents.
 */
export function nextLatents(
  latents: Float32Array,
  predictionTensors: Tensor[],
  step: { cfg: number; channels: number; sigma: number; sigmaNext: number; dtype: ModelDType },
  buffers: StepBuffers = {},
): Float32Array {
  if (step.dtype === "float32" && predictionTensors.length > 1) {
    const into = buffers.into ?? new Float32Array(latents.length);
    const [condBytes, uncondBytes] = predictionTensors.map((tensor) => fromProtoTensor(tensor).data);
    const fast = guidedEulerStepWasm(float32Bytes(latents), condBytes!, uncondBytes!, step.cfg, step.channels, step.sigma, step.sigmaNext, into, buffers.workspace);
    if (fast) return fast;
    const [cond, uncond] = predictionTensors.map((tensor, index) =>
      float32View(fromProtoTensor(tensor), buffers.predictions?.[index]));
    return guidedEulerStepFloat32(latents, cond!, uncond!, step.cfg, step.channels, step.sigma, step.sigmaNext, into);
  }
  return eulerStep(latents, guidedPredictionOf(predictionTensors, step), step.sigma, step.sigmaNext, rounder(step.dtype));
}

/** The model output a step follows: the prediction, or with CFG the guided combination (conditional first). */
export function guidedPredictionOf(
  predictionTensors: Tensor[], step: { cfg: number; channels: number; dtype: ModelDType },
): Float32Array {
  // float32 predictions are read where the response holds them; other dtypes round a copy.
  const predictions = predictionTensors.map((tensor) => {
    const data = fromProtoTensor(tensor);
    return step.dtype === "float32" ? float32View(data) : roundInPlace(toFloat32(data), step.dtype);
  });
  return predictions.length > 1
    ? guidedPrediction(predictions[0]!, predictions[1]!, step.cfg, step.channels, rounder(step.dtype))
    : predictions[0]!;
}

export interface GenerateEvents {
  onProgress?: (progress: StepProgress) => void;
  /** Sees each step's latents and prediction before the Euler update (called before onProgress). */
  onPrediction?: (step: StepPrediction) => void;
  signal?: AbortSignal;
  /** Called when a text prompt is longer than the 1024 tokens the pipeline keeps. */
  onWarning?: (message: string) => void;
  /** Tokenizes text prompts (needed when a prompt is text). */
  formatter?: PromptFormatter;
  /**
   * Puts the prompts on the engine instead (the library does, to reuse embeddings across calls and to keep the text
   * encoder and the transformer apart in low-memory mode); the handles it returns stay the caller's.
   */
  conditioning?: (prompts: PromptInput[]) => Promise<number[]>;
  /** Called after the last step, before the VAE decode (low-memory mode may unload the transformer there). */
  beforeDecode?: () => Promise<void>;
}

/** The unconditional branch: none without CFG; else the given negative, or "" for a text prompt like the pipeline. */
export function negativePrompt(prompt: PromptInput, negative: PromptInput | undefined, cfg: number): PromptInput | undefined {
  if (cfg <= 1) return undefined;
  return negative ?? (typeof prompt === "string" ? "" : undefined);
}

/** Puts one prompt on the engine: text through the tokenizer and EncodeText, embeddings through ImportEmbedding. */
export async function conditioning(
  client: EngineClient, prompt: PromptInput, systemPrompt: string | null | undefined,
  events: Pick<GenerateEvents, "formatter" | "onWarning">,
): Promise<number> {
  if (typeof prompt !== "string") {
    return (await client.importEmbedding(toProtoTensor(prompt.embedding), prompt.mask ? toProtoTensor(prompt.mask) : undefined)).id;
  }
  if (!events.formatter) throw new GenerateOptionsError("text prompts need the model's tokenizer and text encoder");
  return (await encodePrompt(client, events.formatter, prompt, { systemPrompt, onWarning: events.onWarning })).handle.id;
}

export async function generate(
  client: EngineClient,
  model: ModelFolder,
  dtype: ModelDType,
  options: GenerateOptions,
  events: GenerateEvents = {},
): Promise<GenerateResult> {
  const started = performance.now();
  const grid = tokenGrid(model, options.width, options.height);
  const tokens = grid.height * grid.width;
  const channels = model.latentChannels;
  if (!Number.isInteger(options.steps) || options.steps < 1 || options.steps > 1000) {
    throw new GenerateOptionsError(`steps must be a whole number from 1 to 1000, not ${options.steps}`);
  }
  if (!Number.isFinite(options.cfg) || options.cfg < 0) throw new GenerateOptionsError(`cfg must be a number ≥ 0, not ${options.cfg}`);
  const useCfg = options.cfg > 1;
  const negative = negativePrompt(options.prompt, options.negative, options.cfg);
  if (useCfg && negative === undefined) {
    throw new GenerateOptionsError("CFG (cfg > 1) needs negative prompt embeddings; give them, or use cfg 1 to disable guidance");
  }
  const round = rounder(dtype);
  let latents: Float32Array;
  if (options.latents) {
    if (options.latents.length !== tokens * channels) {
      throw new GenerateOptionsError(`initial latents hold ${options.latents.length} values; ${options.width}×${options.height} needs ${tokens}×${channels}`);
    }
    latents = options.latents.map(round);
  } else {
    if (options.seed === undefined) throw new GenerateOptionsError("give a seed or initial latents");
    latents = initialLatents(options.seed, model.unpackedChannels, grid.height, grid.width).map(round);
  }
  const schedule = flowMatchSchedule(model.scheduler, options.steps, tokens);

  const handles: number[] = [];
  const conditioningHandles: number[] = [];
  const release = () => (handles.length ? client.release(handles).catch(() => 0) : Promise.resolve(0));
  try {
    const prompts = useCfg ? [options.prompt, negative!] : [options.prompt];
    if (events.conditioning) {
      const given = await events.conditioning(prompts);
      if (given.length !== prompts.length) throw new Error(`the conditioning hook made ${given.length} handles for ${prompts.length} prompts`);
      conditioningHandles.push(...given);
    } else {
      for (const prompt of prompts) handles.push(await conditioning(client, prompt, options.systemPrompt, events));
      conditioningHandles.push(...handles);
    }
    const stepsStarted = performance.now();
    let computeSeconds = 0;
    // float32 with CFG: the latents stay in the WebAssembly step's memory and the predictions are read into it.
    const workspace = dtype === "float32" && conditioningHandles.length === 2 && !events.onPrediction
      ? GuidedEulerWorkspace.create(tokens * channels, channels) : null;
    const buffers: StepBuffers = workspace
      ? { workspace, into: workspace.latents[1], predictions: workspace.predictions }
      : { predictions: conditioningHandles.map(() => new Float32Array(tokens * channels)) };
    if (workspace) {
      workspace.latents[0].set(latents);
      latents = workspace.latents[0];
    }
    const predictionsInto = buffers.predictions!.map(float32Bytes);
    for (let step = 0; step < options.steps; step++) {
      if (events.signal?.aborted) throw new GenerationCancelledError(step);
      const response = await client.denoise(
        denoiseLatents(latents, tokens, channels), grid, modelTimestep(schedule.timesteps[step]!, dtype), conditioningHandles,
        { predictionsInto });
      computeSeconds += response.computeSeconds;
      const sigma = schedule.sigmas[step]!;
      const sigmaNext = schedule.sigmas[step + 1]!;
      if (events.onPrediction) {
        // Previews need the guided prediction itself: the unfused step.
        const prediction = guidedPredictionOf(response.predictions, { cfg: options.cfg, channels, dtype });
        events.onPrediction({ step: step + 1, total: options.steps, latents, sigma, prediction, grid });
        latents = eulerStep(latents, prediction, sigma, sigmaNext, round);
      } else {
        const next = nextLatents(latents, response.predictions, { cfg: options.cfg, channels, sigma, sigmaNext, dtype }, buffers);
        buffers.into = latents;  // the previous latents hold the step after next
        latents = next;
      }
      const elapsedMs = performance.now() - stepsStarted;
      events.onProgress?.({
        step: step + 1, total: options.steps, elapsedMs, etaMs: (elapsedMs / (step + 1)) * (options.steps - step - 1),
        sigma: schedule.sigmas[step + 1]!,
      });
    }
    if (workspace) latents = latents.slice();  // the caller's own array, not a view of the step's memory
    const stepsMs = performance.now() - stepsStarted;
    if (events.signal?.aborted) throw new GenerationCancelledError(options.steps);
    await events.beforeDecode?.();
    const decodeStarted = performance.now();
    const decoded = await client.unary("decode", {
      latents: { dtype: DType.DTYPE_FLOAT32, shape: [tokens, channels], data: Buffer.from(latents.buffer, latents.byteOffset, latents.byteLength) },
      gridHeight: grid.height, gridWidth: grid.width, floatOutput: false,
    });
    const image = decoded.image!;
    return {
      image: { width: Number(image.shape[1]), height: Number(image.shape[0]), data: Buffer.from(image.data) },
      latents, grid, seed: options.latents ? undefined : options.seed,
      timings: {
        totalMs: performance.now() - started, stepsMs, denoiseComputeMs: computeSeconds * 1000,
        decodeMs: performance.now() - decodeStarted,
      },
    };
  } finally {
    await release();
  }
}
