// A generation request as callers write it (everything but the prompt optional), checked against the shared
// limits and completed with the shared defaults. Every problem is a GenerateOptionsError, whichever door the
// request came through.
import { randomInt } from "node:crypto";

import type { PromptEmbedding } from "../pipeline/inputs.js";
import { GENERATION_LIMITS, PROMPT_LIMITS, limitViolation, type NumberLimit } from "./limits.js";

/** A prompt: text (tokenized, encoded by the engine's text encoder) or precomputed embeddings. */
export type PromptInput = string | PromptEmbedding;

/** An invalid request: a missing or empty prompt, a value outside its limits, a wrong type. */
export class GenerateOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GenerateOptionsError";
  }
}

export interface GenerateRequest {
  prompt: PromptInput;
  /** The unconditional branch when cfg > 1: default "" for text prompts, required for embeddings. */
  negative?: PromptInput;
  /** System prompt for text prompts (undefined = the pipeline's default, null = none). */
  systemPrompt?: string | null;
  /** Default 1024. */
  width?: number;
  /** Default 1024. */
  height?: number;
  /** Default 50. */
  steps?: number;
  /** Default 4.0. */
  cfg?: number;
  /** Seed for the initial noise; default random (reported in the result). Ignored when `latents` is given. */
  seed?: number;
  /** Initial packed latents [S, C]. */
  latents?: Float32Array;
}

/** A request with every default filled in. */
export interface ResolvedGenerateRequest extends GenerateRequest {
  width: number;
  height: number;
  steps: number;
  cfg: number;
}

export function checkNumber(name: string, value: unknown, limit: NumberLimit): number {
  const problem = limitViolation(value, limit);
  if (problem) throw new GenerateOptionsError(`${name} ${problem}`);
  return value as number;
}

function withDefault(name: keyof typeof GENERATION_LIMITS, value: unknown): number {
  const limit: NumberLimit = GENERATION_LIMITS[name];
  return checkNumber(name, value ?? limit.default, limit);
}

export function checkPrompt(name: string, prompt: unknown, { allowEmpty }: { allowEmpty: boolean }): PromptInput {
  if (typeof prompt === "string") {
    if (!allowEmpty && prompt.trim() === "") {
      throw new GenerateOptionsError(`${name} is empty: give a text prompt such as "A red apple on a white table" (or prompt embeddings)`);
    }
    if (prompt.length > PROMPT_LIMITS.maxCharacters) {
      throw new GenerateOptionsError(
        `${name} is ${prompt.length} characters long; at most ${PROMPT_LIMITS.maxCharacters} are accepted (and only the first ${PROMPT_LIMITS.maxTokens} tokens are used)`,
      );
    }
    return prompt;
  }
  const embedding = (prompt as PromptEmbedding | undefined)?.embedding;
  if (prompt === undefined || prompt === null) {
    throw new GenerateOptionsError(`${name} is missing: give a text prompt such as "A red apple on a white table" (or prompt embeddings)`);
  }
  if (typeof prompt !== "object" || !embedding || !Array.isArray(embedding.shape) || !Buffer.isBuffer(embedding.data)) {
    throw new GenerateOptionsError(`${name} must be text or prompt embeddings ({ embedding, mask? }, e.g. from readPromptEmbedding)`);
  }
  return prompt as PromptEmbedding;
}

/** Checks a request and fills in the defaults: steps 50, cfg 4.0, 1024×1024, a random seed. */
export function resolveGenerateRequest(request: GenerateRequest): ResolvedGenerateRequest {
  if (request === null || typeof request !== "object") {
    throw new GenerateOptionsError('give the request as an object, e.g. { prompt: "A red apple on a white table" }');
  }
  const prompt = checkPrompt("prompt", request.prompt, { allowEmpty: false });
  const negative = request.negative === undefined ? undefined : checkPrompt("negative", request.negative, { allowEmpty: true });
  if (request.systemPrompt !== undefined && request.systemPrompt !== null && typeof request.systemPrompt !== "string") {
    throw new GenerateOptionsError("systemPrompt must be text, null (no system message) or left out (the pipeline's default)");
  }
  if (request.latents !== undefined && !(request.latents instanceof Float32Array)) {
    throw new GenerateOptionsError("latents must be a Float32Array of packed latents [S, C]");
  }
  const seed = request.latents
    ? undefined
    : request.seed === undefined ? randomInt(0, 2 ** 32) : checkNumber("seed", request.seed, GENERATION_LIMITS.seed);
  return {
    ...request,
    prompt,
    negative,
    width: withDefault("width", request.width),
    height: withDefault("height", request.height),
    steps: withDefault("steps", request.steps),
    cfg: withDefault("cfg", request.cfg),
    seed,
  };
}
