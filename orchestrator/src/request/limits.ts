// The one table of defaults and limits for a generation request. The CLI's flags, the library's NucleusImage and
// the image service (serve: gRPC and HTTP) all read it, so the three doors accept exactly the same requests.
import { MAX_PROMPT_TOKENS } from "../text/prompt.js";

export interface NumberLimit {
  /** The value used when the request leaves it out (absent: no default, e.g. a random seed). */
  readonly default?: number;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  /** The value must be a multiple of this (image sizes). */
  readonly multipleOf?: number;
  /** What the value is, for error messages and help texts. */
  readonly what: string;
}

export const GENERATION_LIMITS = {
  steps: { default: 50, min: 1, max: 1000, integer: true, what: "denoising steps" },
  cfg: { default: 4.0, min: 0, max: 100, integer: false, what: "classifier-free guidance scale (≤ 1 disables it)" },
  width: { default: 1024, min: 16, max: 4096, integer: true, multipleOf: 16, what: "image width in pixels" },
  height: { default: 1024, min: 16, max: 4096, integer: true, multipleOf: 16, what: "image height in pixels" },
  seed: { min: 0, max: 4294967295, integer: true, what: "seed for the initial noise" },
  count: { default: 1, min: 1, max: 64, integer: true, what: "number of images" },
  quality: { default: 90, min: 1, max: 100, integer: true, what: "JPEG/WebP quality" },
  previewEvery: { default: 0, min: 0, max: 1000, integer: true, what: "steps between previews (0: none)" },
} as const satisfies Record<string, NumberLimit>;

export type LimitName = keyof typeof GENERATION_LIMITS;

/** Text limits: a prompt longer than `maxCharacters` is refused; the pipeline keeps `maxTokens` tokens of it. */
export const PROMPT_LIMITS = {
  maxCharacters: 32_768,
  maxTokens: MAX_PROMPT_TOKENS,
} as const;

/** Output formats by file extension. */
export const IMAGE_FORMATS = { ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp" } as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[keyof typeof IMAGE_FORMATS];

/** Quantization bit widths the engine accepts. */
export const QUANTIZATION_BITS = [8, 4] as const;

/** "a whole number from 1 to 1000", "a multiple of 16 from 16 to 4096", "a number from 0 to 100". */
export function describeLimit(limit: NumberLimit): string {
  const kind = limit.multipleOf ? `a multiple of ${limit.multipleOf}` : limit.integer ? "a whole number" : "a number";
  return `${kind} from ${limit.min} to ${limit.max}`;
}

/** Why `value` breaks `limit`, or undefined when it is fine. */
export function limitViolation(value: unknown, limit: NumberLimit): string | undefined {
  const ok =
    typeof value === "number" && Number.isFinite(value) && value >= limit.min && value <= limit.max &&
    (!limit.integer || Number.isInteger(value)) && (!limit.multipleOf || value % limit.multipleOf === 0);
  return ok ? undefined : `must be ${describeLimit(limit)}, not ${typeof value === "string" ? `'${value}'` : String(value)}`;
}
