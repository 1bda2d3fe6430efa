// The library entry point: load a model once, generate many images.
import type { EngineClient } from "./engine/client.js";
import { LocalEngine, type StartOptions } from "./engine/process.js";
import { writeFileAtomic } from "./files/output.js";
import { type LoadOptions, type LoadProgress, type ModelSummary } from "./generated/nucleus/engine/v1/engine.js";
import { encodeImage, imageFormatOf } from "./image/encode.js";
import { metadataText, type ImageMetadata } from "./image/metadata.js";
import { encodePng, type RGBImage } from "./image/png.js";
import { resolveModel, type ResolvedModel } from "./model/resolve-model.js";
import {
  GenerationCancelledError, conditioning, generate, negativePrompt, type GenerateResult, type PromptInput, type StepPrediction, type StepProgress,
} from "./pipeline/generate.js";
import { checkMemory, decodeAlone } from "./pipeline/memory-check.js";
import { PromptCache } from "./pipeline/prompt-cache.js";
import { IMAGE_COMPONENTS, ResidentComponents, TEXT_COMPONENTS } from "./pipeline/resident-components.js";
import { previewProjection, type FittedProjection } from "./preview/fit-projection.js";
import { predictedClean, projectLatents } from "./preview/latent-preview.js";
import { encodePrompt } from "./pipeline/encode-prompt.js";
import type { PromptEmbedding } from "./pipeline/inputs.js";
import {
  type ModelFolder, type TextModelFolder, readModelFolder, readTextModelFolder, requireTextSupport,
} from "./pipeline/model-folder.js";
import { GenerateOptionsError, checkNumber, resolveGenerateRequest, type GenerateRequest } from "./request/generate-request.js";
import { GENERATION_LIMITS } from "./request/limits.js";
import { parseModelDType, type ModelDType } from "./sampling/precision.js";
import { fromProtoTensor, float32Tensor } from "./tensors/convert.js";
import { loadPromptFormatter, type PromptFormatter, type TokenizedPrompt } from "./text/prompt.js";

export interface LoadModelOptions {
  /** Engine load options: dtype, quantization of the transformer and experts, memory limit. */
  load?: Partial<LoadOptions>;
  /** How to start the engine (binary, port, timeouts). */
  engine?: StartOptions;
  onLoadProgress?: (progress: LoadProgress) => void;
  /**
   * Low-memory mode: the text encoder and the transformer are never resident together. Prompts are encoded first,
   * then the text encoder is unloaded and the transformer loaded; a new prompt later swaps them back (from disk).
   * Prompts already encoded are reused without the text encoder.
   */
  lowMemory?: boolean;
  /** The image size the memory check assumes (default 1024×1024). */
  plannedSize?: { width: number; height: number };
  /** Skip the check that the pipeline fits in memory before loading (the engine still refuses loads that do not fit). */
  skipMemoryCheck?: boolean;
  /** For a Hugging Face id: the branch, tag or commit (default main). */
  revision?: string;
  /** Cancels the load: the engine is stopped and load() rejects with GenerationCancelledError. */
  signal?: AbortSignal;
}

export interface GenerateCallOptions {
  onProgress?: (progress: StepProgress) => void;
  signal?: AbortSignal;
  /** Called with warnings about the request (e.g. a prompt truncated to 1024 tokens); default: console.warn. */
  onWarning?: (message: string) => void;
  /**
   * Receives a cheap preview of the clean image the model predicts (x0, through a linear latent→RGB projection
   * fitted to the model's VAE; 1/8 of the image's width and height) every `previewEvery` steps and at the last.
   */
  onPreview?: (preview: ImagePreview) => void;
  /** Default 1: every step. */
  previewEvery?: number;
}

export interface ImagePreview {
  step: number;
  total: number;
  image: RGBImage;
}

export interface EncodeOptions {
  /** undefined = the pipeline's default system prompt, null = none. */
  systemPrompt?: string | null;
  /** Python-style index into the text encoder's hidden states (default: the loaded one, -8). */
  hiddenLayer?: number;
  onWarning?: (message: string) => void;
}

export interface EncodedPrompt extends PromptEmbedding {
  tokens: TokenizedPrompt;
}

/** What generate() returns: the image and latents, the parameters used (the seed too), timings and memory. */
export interface ImageResult extends GenerateResult {
  /** The seed used (a random one when the request gave none); undefined when initial latents were given. */
  seed?: number;
  timings: GenerateResult["timings"] & {
    /** Weight loading charged to this call: the model's load for the first call after load() or restart(), plus text-encoder reloads in low-memory mode. */
    loadMs: number;
    perStepMs: number;
  };
  /** The engine's peaks since it started: process resident memory (RSS high-water mark) and MLX's allocations. */
  memory: { peakRssBytes: number; mlxPeakBytes: number };
  /** The parameters as save() and the CLI write them into the image. */
  metadata: ImageMetadata;
}

export interface SaveOptions {
  /** Write the generation parameters into the file (default true). */
  metadata?: boolean;
  /** JPEG/WebP quality 1-100 (default 90). */
  quality?: number;
  /** Replace an existing file (default false: an existing file is an error). */
  force?: boolean;
}

/** A NucleusImage was used after close(). */
export class ModelClosedError extends Error {
  constructor() {
    super("this model is closed (close() was called): load it again with NucleusImage.load(...)");
    this.name = "ModelClosedError";
  }
}

const warnOnConsole = (message: string) => console.warn(`nucleus-image: ${message}`);

/**
 * A loaded Nucleus-Image model with its own engine process:
 *
 *   const model = await NucleusImage.load("NucleusAI/Nucleus-Image");
 *   const result = await model.generate({ prompt: "A red apple on a white table" });
 *   await model.save(result, "apple.png");
 *   await model.close();
 */
export class NucleusImage {
  private closed = false;
  private readonly prompts = new PromptCache();
  /** Low-memory mode, by image size: whether the decode runs with the transformer unloaded. */
  private readonly decodeAloneBySize = new Map<string, boolean>();
  private projection?: Promise<FittedProjection>;

  private constructor(
    private readonly engine: LocalEngine,
    /** The model folder (its text side; `imageFolder` when it can make images). */
    readonly folder: TextModelFolder,
    private readonly imageFolder: ModelFolder | undefined,
    private readonly components: ResidentComponents,
    /** The components this model uses (the first load may hold only some of them in low-memory mode). */
    private readonly wanted: string[],
    /** Tokenizer and chat template, when the folder has a text encoder and processor/. */
    readonly formatter: PromptFormatter | undefined,
    /** How long the last load (or restart) took, in milliseconds. */
    public loadMs: number,
    /** Why text prompts cannot be used although the folder has a text encoder (e.g. no tokenizer.json). */
    private readonly textUnavailable?: string,
  ) {}

  /** What the engine has loaded so far: components, dtypes, quantization, parameter counts. */
  get summary(): ModelSummary {
    return { modelDir: this.folder.directory, components: [...this.components.info.values()], loadSeconds: this.loadMs / 1000 };
  }

  /** The transformer's compute dtype (undefined until the transformer has been loaded, or when it is not used). */
  get dtype(): ModelDType | undefined {
    const transformer = this.components.info.get("transformer");
    return transformer ? parseModelDType(transformer.dtype) : undefined;
  }

  /**
   * Starts an engine and loads the folder's transformer, VAE and (when present) text encoder, or the subset named
   * in options.load.components. `model` is a folder in the release layout (or its model_index.json, or one of
   * its component folders) or a Hugging Face id downloaded with `hf download` (e.g. "NucleusAI/Nucleus-Image").
   * A folder without text_encoder/ still works with prompt embeddings; one with only text_encoder/ and
   * processor/ loads with components: ["text_encoder"] to encode prompts.
   */
  static async load(model: string | ResolvedModel, options: LoadModelOptions = {}): Promise<NucleusImage> {
    const started = performance.now();
    const resolved = typeof model === "string" ? resolveModel(model, { revision: options.revision }) : model;
    const requested = options.load?.components ?? [];
    const textOnly = requested.length > 0 && !requested.includes("transformer") && !requested.includes("vae");
    const imageFolder = textOnly ? undefined : readModelFolder(resolved);
    const folder = imageFolder ?? readTextModelFolder(resolved);
    let components = requested;
    let formatter: PromptFormatter | undefined;
    let textUnavailable: string | undefined;
    if (folder.hasTextEncoder && (requested.length === 0 || requested.includes("text_encoder"))) {
      // Reading the tokenizer first means a broken processor/ folder fails before minutes of weight loading. When
      // the text encoder was not asked for by name, the model still loads for prompt embeddings.
      try {
        formatter = loadPromptFormatter(requireTextSupport(folder));
      } catch (error) {
        if (requested.length > 0) throw error;
        textUnavailable = (error as Error).message;
        components = ["transformer", "vae"];
      }
    }
    if (options.signal?.aborted) throw new GenerationCancelledError(0);
    const wanted = components.length > 0 ? components : [...IMAGE_COMPONENTS, ...(folder.hasTextEncoder && !textUnavailable ? TEXT_COMPONENTS : [])];
    const lowMemory = options.lowMemory ?? options.load?.unloadTextEncoderAfterEncode ?? false;
    // Low-memory mode starts with the text encoder: prompts come first, and loading the transformer before it
    // would mean loading it twice.
    const first = lowMemory && wanted.some((c) => TEXT_COMPONENTS.includes(c)) ? TEXT_COMPONENTS : wanted;
    const load = { ...options.load, unloadTextEncoderAfterEncode: false };
    const engine = await LocalEngine.start(options.engine);
    const cancel = () => void engine.stop(1000);
    options.signal?.addEventListener("abort", cancel, { once: true });
    try {
      if (!options.skipMemoryCheck) {
        await checkMemory(engine.client, folder.directory, { ...load, components: wanted }, lowMemory, options.plannedSize ?? { width: 1024, height: 1024 });
      }
      const resident = new ResidentComponents(() => engine.client, folder.directory, load, lowMemory, options.onLoadProgress);
      await resident.ensure(first);
      return new NucleusImage(
        engine, folder, imageFolder, resident, wanted, formatter, performance.now() - started, textUnavailable,
      );
    } catch (error) {
      await engine.stop();
      if (options.signal?.aborted) throw new GenerationCancelledError(0);
      throw error;
    } finally {
      options.signal?.removeEventListener("abort", cancel);
    }
  }

  /**
   * Checks that the engine answers within `timeoutMs`; one that does not (stopped, hung) is killed, so the call in
   * flight fails at once instead of waiting for its deadline. Returns whether it answered.
   */
  ensureResponsive(timeoutMs: number): Promise<boolean> {
    return this.engine.ensureResponsive(timeoutMs);
  }

  /** The folder's image side (latent widths, pixels per token, scheduler); undefined when loaded to encode text only. */
  get imageModel(): ModelFolder | undefined {
    return this.imageFolder;
  }

  /** Whether the text encoder and the transformer are kept apart (LoadModelOptions.lowMemory). */
  get lowMemory(): boolean {
    return this.components.lowMemory;
  }

  /** Whether text prompts work (a text encoder and tokenizer were loaded). */
  get acceptsText(): boolean {
    return this.formatter !== undefined;
  }

  private requireOpen(): void {
    if (this.closed) throw new ModelClosedError();
  }

  private requireFormatter(): PromptFormatter {
    if (!this.formatter) {
      if (this.textUnavailable) throw new Error(this.textUnavailable);
      if (this.folder.hasTextEncoder) throw new Error("the text encoder was not loaded (options.load.components left it out): load it to use text prompts");
      requireTextSupport(this.folder);
      throw new Error(`${this.folder.directory}: text prompts need a text encoder`);
    }
    return this.formatter;
  }

  /** The text encoder, loaded again when low-memory mode swapped it out. */
  private async ensureTextEncoder(): Promise<void> {
    await this.components.ensure(TEXT_COMPONENTS);
  }

  /**
   * Puts the prompts on the engine: text from the cache or through the text encoder (loaded when needed), embeddings
   * imported. Returns the handles and those to release after the call (the imported ones).
   */
  private async promptHandles(
    prompts: PromptInput[], systemPrompt: string | null | undefined, onWarning: (message: string) => void,
  ): Promise<{ handles: number[]; temporary: number[] }> {
    const handles: number[] = [];
    const temporary: number[] = [];
    for (const prompt of prompts) {
      if (typeof prompt !== "string") {
        const handle = await conditioning(this.engine.client, prompt, systemPrompt, {});
        handles.push(handle);
        temporary.push(handle);
        continue;
      }
      const cached = this.prompts.get(prompt, systemPrompt);
      if (cached !== undefined) {
        handles.push(cached);
        continue;
      }
      const formatter = this.requireFormatter();
      await this.ensureTextEncoder();
      const handle = await conditioning(this.engine.client, prompt, systemPrompt, { formatter, onWarning });
      await this.prompts.put(this.engine.client, prompt, systemPrompt, handle);
      handles.push(handle);
    }
    return { handles, temporary };
  }

  /**
   * Encodes a text prompt like the pipeline's encode_prompt: returns prompt_embeds [L, D] and the mask [L] in
   * diffusers' layout (the batch axis dropped), plus the tokens.
   */
  async encode(prompt: string, options: EncodeOptions = {}): Promise<EncodedPrompt> {
    this.requireOpen();
    if (typeof prompt !== "string") throw new GenerateOptionsError("encode() takes the prompt as text");
    const formatter = this.requireFormatter();
    await this.ensureTextEncoder();
    const { handle, tensor, tokens } = await encodePrompt(this.engine.client, formatter, prompt, {
      ...options, returnTensor: true, onWarning: options.onWarning ?? warnOnConsole,
    });
    await this.engine.client.release([handle.id]);
    if (!tensor) throw new Error("EncodeText sent no tensor back");
    const mask = float32Tensor(Float32Array.from(tokens.mask), [tokens.mask.length]);
    return { embedding: fromProtoTensor(tensor), mask, tokens };
  }

  /** The engine's client, for lower-level calls (Denoise, Decode, GetInfo). */
  get client(): EngineClient {
    this.requireOpen();
    return this.engine.client;
  }

  /**
   * Runs the whole pipeline. Every option but the prompt has a default: steps 50, cfg 4.0, 1024×1024, a random
   * seed (reported in the result). An invalid option throws GenerateOptionsError; an aborted `signal` rejects
   * with GenerationCancelledError after the current step.
   */
  async generate(request: GenerateRequest, call: GenerateCallOptions = {}): Promise<ImageResult> {
    this.requireOpen();
    const options = resolveGenerateRequest(request);
    if (call.previewEvery !== undefined && (!Number.isInteger(call.previewEvery) || call.previewEvery < 1)) {
      throw new GenerateOptionsError(`previewEvery must be a whole number ≥ 1, not ${call.previewEvery}`);
    }
    if (!this.imageFolder || !this.wanted.includes("transformer")) {
      throw new Error("the transformer was not loaded (options.load.components left it out): load it to generate images");
    }
    const negative = negativePrompt(options.prompt, options.negative, options.cfg);
    const text = typeof options.prompt === "string" || typeof negative === "string";
    const formatter = text ? this.requireFormatter() : undefined;
    const onWarning = call.onWarning ?? warnOnConsole;
    const prompts = negative === undefined ? [options.prompt] : [options.prompt, negative];
    const { handles, temporary } = await this.promptHandles(prompts, options.systemPrompt, onWarning);
    let result: GenerateResult;
    try {
      await this.components.ensure(IMAGE_COMPONENTS.filter((c) => this.wanted.includes(c)));
      const onPrediction = call.onPreview ? await this.previewer(call.onPreview, call.previewEvery ?? 1) : undefined;
      result = await generate(this.engine.client, this.imageFolder, this.dtype!, options, {
        ...call, formatter, onWarning, onPrediction, conditioning: async () => handles,
        beforeDecode: async () => {
          if (await this.decodesAlone(options.width, options.height)) await this.components.unload(["transformer"]);
        },
      });
    } finally {
      if (temporary.length) await this.engine.client.release(temporary).catch(() => 0);
    }
    const info = await this.engine.client.getInfo();
    const loadMs = this.takeLoadMs();
    const component = (name: string) => this.components.info.get(name);
    const metadata: ImageMetadata = {
      prompt: typeof options.prompt === "string" ? options.prompt : undefined,
      negative_prompt: typeof negative === "string" ? negative : undefined,
      system_prompt: text && options.systemPrompt !== undefined ? options.systemPrompt : undefined,
      seed: result.seed, steps: options.steps, cfg: options.cfg, width: options.width, height: options.height,
      model: this.folder.label,
      quantization: component("transformer")?.quantization ?? "none",
      text_encoder_quantization: text ? (component("text_encoder")?.quantization ?? "none") : undefined,
      dtype: this.dtype!, engine_version: info.engineVersion, mlx_version: info.mlxVersion, scheduler: "FlowMatchEulerDiscrete",
    };
    return {
      ...result,
      timings: { ...result.timings, loadMs, perStepMs: result.timings.stepsMs / options.steps },
      memory: { peakRssBytes: info.memory?.peakRssBytes ?? 0, mlxPeakBytes: info.memory?.peakBytes ?? 0 },
      metadata,
    };
  }

  /**
   * The latent→RGB projection of previews, fitted to this model's VAE (decoded through the engine once per VAE and
   * kept in the cache folder; see preview/fit-projection.ts). Needs the VAE resident.
   */
  previewProjection(): Promise<FittedProjection> {
    this.requireOpen();
    if (!this.imageFolder) throw new Error("previews need the model's VAE");
    this.projection ??= previewProjection(this.engine.client, this.imageFolder).catch((error: unknown) => {
      this.projection = undefined;
      throw error;
    });
    return this.projection;
  }

  private async previewer(onPreview: (preview: ImagePreview) => void, every: number): Promise<(step: StepPrediction) => void> {
    const projection = await this.previewProjection();
    return ({ step, total, latents, sigma, prediction, grid }) => {
      if (step % every !== 0 && step !== total) return;
      onPreview({ step, total, image: projectLatents(predictedClean(latents, prediction, sigma), grid, projection) });
    };
  }

  /**
   * Writes `result.image` to `path` as PNG, JPEG or WebP (by the extension) with the same metadata as the CLI,
   * atomically; an existing file is replaced only with `force`.
   */
  async save(result: ImageResult, path: string, options: SaveOptions = {}): Promise<void> {
    const format = imageFormatOf(path);
    const quality = options.quality === undefined ? undefined : checkNumber("quality", options.quality, GENERATION_LIMITS.quality);
    const metadata = options.metadata === false ? {} : metadataText(result.metadata);
    writeFileAtomic(path, await encodeImage(result.image, format, { quality, metadata }), options.force ?? false);
  }

  /**
   * Starts a fresh engine and loads the model again with the same options: the way to continue after
   * EngineDiedError (for example when the engine ran out of memory).
   */
  async restart(): Promise<void> {
    this.requireOpen();
    const started = performance.now();
    await this.engine.restart();
    this.components.forget();
    this.prompts.clear();
    const first = this.components.lowMemory && this.wanted.some((c) => TEXT_COMPONENTS.includes(c)) ? TEXT_COMPONENTS : this.wanted;
    await this.components.ensure(first);
    this.loadMs = performance.now() - started;
  }

  /** In low-memory mode, whether an image of this size is decoded with the transformer unloaded (the engine's call). */
  private async decodesAlone(width: number, height: number): Promise<boolean> {
    if (!this.components.lowMemory) return false;
    const key = `${width}x${height}`;
    let alone = this.decodeAloneBySize.get(key);
    if (alone === undefined) {
      alone = await decodeAlone(this.engine.client, this.folder.directory, { ...this.components.loadOptions, components: this.wanted }, { width, height });
      this.decodeAloneBySize.set(key, alone);
    }
    return alone;
  }

  /**
   * Takes the weight-loading time not yet charged to a result (the first load or restart, reloads in low-memory
   * mode): the next result's timings.loadMs leaves it out. A server calls it once loaded, so jobs show only what
   * they made load.
   */
  takeLoadMs(): number {
    return this.components.takeLoadMs();
  }

  /** Encodes an image as PNG, with text metadata unless `text` is empty. */
  static png(image: RGBImage, text: Record<string, string> = {}): Promise<Buffer> {
    return encodePng(image, text);
  }

  /** Stops the engine; later calls throw ModelClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    await this.engine.stop();
  }
}
