// Commander value parsers that reject bad input with a message naming the flag and what it takes.
import { InvalidArgumentError } from "commander";

export const integer = (name: string, min: number, max: number) => (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
};

export const nonNegative = (name: string) => (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a number ≥ 0`);
  return value;
};

export const quantizationBits = (name: string) => (text: string): number => {
  if (text !== "8" && text !== "4") throw new InvalidArgumentError(`${name} must be 8 or 4`);
  return Number(text);
};

/** A Python-style index into the text encoder's hidden states: -1 is the last layer, 1 the first. */
export const hiddenLayer = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value === 0) {
    throw new InvalidArgumentError("--hidden-layer must be a nonzero whole number like Python's hidden_states[i] (-8 is the pipeline's, -1 the last layer)");
  }
  return value;
};
