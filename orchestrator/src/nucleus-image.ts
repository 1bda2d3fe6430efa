// The library entry point: load a model once, generate many images.
import type { EngineClient } from "./engine/client.js";
import { LocalEngine, type StartOptions } from "./engine/process.js";
import { type LoadOptions, type LoadProgress, type ModelSummary } from "./generated/nucleus/engine/v1/engine.js";
import { encodePng, type RGBImage } from "./image/png.js";
import { generate, type GenerateOptions, type GenerateResult, type StepProgress } from "./pipeline/generate.js";
import { type ModelFolder, readModelFolder } from "./pipeline/model-folder.js";
import { parseModelDType, type ModelDType } from "./sampling/precision.js";

export interface LoadModelOptions {
  /** Engine load options: dtype, quantization of the transformer and experts, memory limit. */
  load?: Partial<LoadOptions>;
  /** How to start the engine (binary, port, timeouts). */
  engine?: StartOptions;
  onLoadProgress?: (progress: LoadProgress) => void;
}

export interface GenerateCallOptions {
  onProgress?: (progress: StepProgress) => void;
  signal?: AbortSignal;
}

/**
 * A loaded Nucleus-Image model with its own engine process:
 *
 *   const model = await NucleusImage.load("/models/Nucleus-Image");
 *   const result = await model.generate({ prompt, negative, width: 1024, height: 1024, steps: 50, cfg: 4, seed: 42 });
 *   await model.close();
 */
export class NucleusImage {
  private constructor(
    private readonly engine: LocalEngine,
    readonly folder: ModelFolder,
    readonly summary: ModelSummary,
    readonly dtype: ModelDType,
  ) {}

  static async load(modelDir: string, options: LoadModelOptions = {}): Promise<NucleusImage> {
    const folder = readModelFolder(modelDir);
    const engine = await LocalEngine.start(options.engine);
    try {
      const summary = await engine.client.loadModel(folder.directory, options.load ?? {}, options.onLoadProgress);
      const transformer = summary.components.find((component) => component.name === "transformer");
      if (!transformer) throw new Error(`${folder.directory}: the engine loaded no transformer`);
      return new NucleusImage(engine, folder, summary, parseModelDType(transformer.dtype));
    } catch (error) {
      await engine.stop();
      throw error;
    }
  }

  /** The engine's client, for lower-level calls (Denoise, Decode, GetInfo). */
  get client(): EngineClient {
    return this.engine.client;
  }

  /** Runs the whole pipeline; rejects with GenerationCancelledError if `signal` aborts (after the current step). */
  async generate(options: GenerateOptions, call: GenerateCallOptions = {}): Promise<GenerateResult> {
    return generate(this.engine.client, this.folder, this.dtype, options, call);
  }

  /** Encodes an image as PNG, with text metadata unless `text` is empty. */
  static png(image: RGBImage, text: Record<string, string> = {}): Promise<Buffer> {
    return encodePng(image, text);
  }

  async close(): Promise<void> {
    await this.engine.stop();
  }
}
