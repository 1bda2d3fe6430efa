// Commander value parsers built from the shared limits table: they reject bad input with a message naming the
// flag and what it takes.
import { InvalidArgumentError } from "@commander-js/extra-typings";

import { GENERATION_LIMITS, QUANTIZATION_BITS, describeLimit, limitViolation, type LimitName } from "../request/limits.js";

/** Parses a number flag against its row of GENERATION_LIMITS. */
export const limitFlag = (flag: string, name: LimitName) => (text: string): number => {
  const limit = GENERATION_LIMITS[name];
  const value = text.trim() === "" ? NaN : Number(text);
  if (limitViolation(value, limit)) throw new InvalidArgumentError(`${flag} must be ${describeLimit(limit)}`);
  return value;
};

export const quantizationBits = (flag: string) => (text: string): number => {
  const bits = Number(text);
  if (!(QUANTIZATION_BITS as readonly number[]).includes(bits) || String(bits) !== text) {
    throw new InvalidArgumentError(`${flag} must be ${QUANTIZATION_BITS.join(" or ")}`);
  }
  return bits;
};

/** A Python-style index into the text encoder's hidden states: -1 is the last layer, 1 the first. */
export const hiddenLayer = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value === 0) {
    throw new InvalidArgumentError("--hidden-layer must be a nonzero whole number like Python's hidden_states[i] (-8 is the pipeline's, -1 the last layer)");
  }
  return value;
};

export const port = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError("--port must be a whole number from 0 to 65535 (0 picks a free port)");
  return value;
};

/** "42" or "1,2,3": seeds, each checked against the table. */
export const seedList = (text: string): number[] => {
  const parse = limitFlag("--seed", "seed");
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length > GENERATION_LIMITS.count.max) {
    throw new InvalidArgumentError(`--seed takes at most ${GENERATION_LIMITS.count.max} seeds`);
  }
  try {
    return parts.map(parse);
  } catch {
    throw new InvalidArgumentError(`--seed takes a seed or a comma-separated list of seeds, each ${describeLimit(GENERATION_LIMITS.seed)}`);
  }
};
