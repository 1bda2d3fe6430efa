// The library entry point: load a model once, generate many images.
import type { EngineClient } from "./engine/client.js";
import { LocalEngine, type StartOptions } from "./engine/process.js";
import { type LoadOptions, type LoadProgress, type ModelSummary } from "./generated/nucleus/engine/v1/engine.js";
import { encodePng, type RGBImage } from "./image/png.js";
import { generate, type GenerateOptions, type GenerateResult, type StepProgress } from "./pipeline/generate.js";
import { encodePrompt } from "./pipeline/encode-prompt.js";
import type { PromptEmbedding } from "./pipeline/inputs.js";
import { type ModelFolder, readModelFolder, requireTextSupport } from "./pipeline/model-folder.js";
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
   * Low-memory mode: the engine drops the text encoder when denoising starts, so its weights never sit beside the
   * transformer's activations; it is loaded again (from disk) before the next text prompt is encoded.
   */
  lowMemory?: boolean;
}

export interface GenerateCallOptions {
  onProgress?: (progress: StepProgress) => void;
  signal?: AbortSignal;
  /** Called with warnings about the request (e.g. a prompt truncated to 1024 tokens); default: console.warn. */
  onWarning?: (message: string) => void;
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

const warnOnConsole = (message: string) => console.warn(`nucleus-image: ${message}`);

/**
 * A loaded Nucleus-Image model with its own engine process:
 *
 *   const model = await NucleusImage.load("/models/Nucleus-Image");
 *   const result = await model.generate({ prompt, negative, width: 1024, height: 1024, steps: 50, cfg: 4, seed: 42 });
 *   await model.close();
 */
export class NucleusImage {
  /** False once low-memory mode has dropped the text encoder in the engine. */
  private textEncoderResident: boolean;

  private constructor(
    private readonly engine: LocalEngine,
    readonly folder: ModelFolder,
    readonly summary: ModelSummary,
    /** The transformer's compute dtype (undefined when only other components were loaded). */
    readonly dtype: ModelDType | undefined,
    /** Tokenizer and chat template, when the folder has a text encoder and processor/. */
    readonly formatter: PromptFormatter | undefined,
    private readonly options: LoadModelOptions,
    /** Why text prompts cannot be used although the folder has a text encoder (e.g. no tokenizer.json). */
    private readonly textUnavailable?: string,
  ) {
    this.textEncoderResident = summary.components.some((component) => component.name === "text_encoder");
  }

  /**
   * Starts an engine and loads the folder's transformer, VAE and (when present) text encoder, or the subset named
   * in options.load.components. A folder without text_encoder/ still works with prompt embeddings.
   */
  static async load(modelDir: string, options: LoadModelOptions = {}): Promise<NucleusImage> {
    const folder = readModelFolder(modelDir);
    const requested = options.load?.components ?? [];
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
    const engine = await LocalEngine.start(options.engine);
    try {
      const load = {
        ...options.load, components,
        unloadTextEncoderAfterEncode: options.lowMemory ?? options.load?.unloadTextEncoderAfterEncode ?? false,
      };
      const summary = await engine.client.loadModel(folder.directory, load, options.onLoadProgress);
      const transformer = summary.components.find((component) => component.name === "transformer");
      const dtype = transformer ? parseModelDType(transformer.dtype) : undefined;
      return new NucleusImage(engine, folder, summary, dtype, formatter, { ...options, load }, textUnavailable);
    } catch (error) {
      await engine.stop();
      throw error;
    }
  }

  /** Whether text prompts work (a text encoder and tokenizer were loaded). */
  get acceptsText(): boolean {
    return this.formatter !== undefined;
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

  /** In low-memory mode the engine dropped the text encoder after the last generation; load it again. */
  private async ensureTextEncoder(): Promise<void> {
    if (this.textEncoderResident) return;
    await this.engine.client.loadModel(this.folder.directory, { ...this.options.load, components: ["text_encoder"] }, this.options.onLoadProgress);
    this.textEncoderResident = true;
  }

  /**
   * Encodes a text prompt like the pipeline's encode_prompt: returns prompt_embeds [L, D] and the mask [L] in
   * diffusers' layout (the batch axis dropped), plus the tokens.
   */
  async encode(prompt: string, options: EncodeOptions = {}): Promise<EncodedPrompt> {
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
    return this.engine.client;
  }

  /** Runs the whole pipeline; rejects with GenerationCancelledError if `signal` aborts (after the current step). */
  async generate(options: GenerateOptions, call: GenerateCallOptions = {}): Promise<GenerateResult> {
    if (!this.dtype) throw new Error("the transformer was not loaded (options.load.components left it out): load it to generate images");
    const text = typeof options.prompt === "string" || typeof options.negative === "string";
    const formatter = text ? this.requireFormatter() : undefined;
    if (text) await this.ensureTextEncoder();
    try {
      return await generate(this.engine.client, this.folder, this.dtype, options, {
        ...call, formatter, onWarning: call.onWarning ?? warnOnConsole,
      });
    } finally {
      if (text && this.options.load?.unloadTextEncoderAfterEncode) this.textEncoderResident = false;
    }
  }

  /** Encodes an image as PNG, with text metadata unless `text` is empty. */
  static png(image: RGBImage, text: Record<string, string> = {}): Promise<Buffer> {
    return encodePng(image, text);
  }

  async close(): Promise<void> {
    await this.engine.stop();
  }
}
