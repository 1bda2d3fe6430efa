// A job as the server's doors (gRPC, HTTP) hand it over, checked with the same table of defaults and limits as the
// CLI and the library (request/limits.ts, request/generate-request.ts) before it is queued. Errors name the
// field as the door calls it (guidance, guidance_scale, n, ...).
import { batchSeeds } from "../files/output-template.js";
import { checkMetadataFits } from "../image/encode.js";
import { tokenGrid } from "../pipeline/generate.js";
import type { ModelFolder } from "../pipeline/model-folder.js";
import { GenerateOptionsError, checkNumber, resolveGenerateRequest, type ResolvedGenerateRequest } from "../request/generate-request.js";
import { GENERATION_LIMITS, IMAGE_FORMATS, type ImageFormat, type LimitName } from "../request/limits.js";

export interface JobInput {
  prompt?: unknown;
  negative?: unknown;
  /** undefined: the pipeline's default; null: no system message. */
  systemPrompt?: unknown;
  width?: unknown;
  height?: unknown;
  steps?: unknown;
  cfg?: unknown;
  /** The first image's seed; default random. */
  seed?: unknown;
  count?: unknown;
  /** 0 (default): no previews. */
  previewEvery?: unknown;
  format?: unknown;
  metadata?: unknown;
  quality?: unknown;
}

/** How a door names each field in its messages (default: the library's names). */
export type FieldNames = Partial<Record<keyof JobInput, string>>;

export interface JobRequest {
  /** Every generation parameter; `seed` is the first image's. */
  generate: ResolvedGenerateRequest & { prompt: string; seed: number };
  seeds: number[];
  previewEvery: number;
  format: ImageFormat;
  metadata: boolean;
  quality?: number;
}

const FORMATS = [...new Set(Object.values(IMAGE_FORMATS))];

function text(name: string, value: unknown, optional: boolean): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string") {
    throw new GenerateOptionsError(value === undefined || value === null
      ? `${name} is missing: give a text prompt such as "A red apple on a white table"`
      : `${name} must be text, not ${typeof value}`);
  }
  return value;
}

/**
 * Checks a job against the shared limits and the loaded model and fills in the defaults (the CLI's): the first
 * seed is drawn here when none was given, so every image's seed is known before it runs.
 */
export function resolveJobRequest(input: JobInput, model: ModelFolder, names: FieldNames = {}): JobRequest {
  const name = (field: keyof JobInput) => names[field] ?? field;
  const number = (field: keyof JobInput & LimitName) => {
    const value = input[field];
    return value === undefined ? undefined : checkNumber(name(field), value, GENERATION_LIMITS[field]);
  };
  const prompt = text(name("prompt"), input.prompt, false)!;
  const negative = text(name("negative"), input.negative, true);
  if (input.systemPrompt !== undefined && input.systemPrompt !== null) text(name("systemPrompt"), input.systemPrompt, false);
  const [width, height, steps, cfg, seed] = [number("width"), number("height"), number("steps"), number("cfg"), number("seed")];
  const count = number("count") ?? GENERATION_LIMITS.count.default;
  const previewEvery = number("previewEvery") ?? GENERATION_LIMITS.previewEvery.default;
  const generate = resolveGenerateRequest({
    prompt, negative, systemPrompt: input.systemPrompt as string | null | undefined, width, height, steps, cfg, seed,
  });
  tokenGrid(model, generate.width, generate.height);
  let seeds: number[];
  try {
    seeds = batchSeeds(undefined, count, () => generate.seed!);
  } catch (error) {
    throw new GenerateOptionsError(`${name("seed")} + ${name("count")}: ${(error as Error).message}`);
  }

  const format = input.format ?? "png";
  if (typeof format !== "string" || !(FORMATS as string[]).includes(format)) {
    throw new GenerateOptionsError(`${name("format")} must be ${FORMATS.join(", ")}, not ${JSON.stringify(format)}`);
  }
  const metadata = input.metadata ?? true;
  if (typeof metadata !== "boolean") throw new GenerateOptionsError(`${name("metadata")} must be true or false`);
  const quality = number("quality");
  if (quality !== undefined && format === "png") {
    throw new GenerateOptionsError(`${name("quality")} applies to jpeg and webp, not png`);
  }
  if (metadata) checkMetadataFits(format as ImageFormat, [prompt, negative, input.systemPrompt as string | undefined]);
  return {
    generate: { ...generate, prompt, seed: seeds[0]! }, seeds, previewEvery, format: format as ImageFormat, metadata, quality,
  };
}
