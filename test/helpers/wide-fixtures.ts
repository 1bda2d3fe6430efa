// The wide fixture of tools/reference/make_wide_fixtures.py: a tiny model whose quantizable widths are multiples of
// 64 (bf16, own tokenizer) and what diffusers / transformers make with it in float32 and bfloat16.
import { join } from "node:path";

import { toFloat32 } from "../../orchestrator/src/tensors/convert.js";
import { readSafetensors, type SafetensorsFile } from "../../orchestrator/src/tensors/safetensors.js";
import { repoRoot } from "./engine.js";

export const wideFixtures = join(repoRoot, "test", "fixtures", "wide");
export const wideModel = join(wideFixtures, "model");

export interface WideCase {
  file: SafetensorsFile;
  /** A tensor as float32 values (throws naming the key when it is missing). */
  values(key: string): Float32Array;
  /** A number the script recorded in the metadata (a floor, a size). */
  number(key: string): number;
  text(key: string): string;
}

export function wideCase(name: "pipeline" | "text" | "vae"): WideCase {
  const file = readSafetensors(join(wideFixtures, `${name}.safetensors`));
  return {
    file,
    values(key) {
      const tensor = file.tensors.get(key);
      if (!tensor) throw new Error(`${name}.safetensors has no tensor ${key}: rerun make_wide_fixtures.py`);
      return toFloat32(tensor);
    },
    number(key) {
      const value = Number(file.metadata[key]);
      if (!Number.isFinite(value)) throw new Error(`${name}.safetensors records no number ${key}`);
      return value;
    },
    text(key) {
      const value = file.metadata[key];
      if (value === undefined) throw new Error(`${name}.safetensors records no ${key}`);
      return value;
    },
  };
}

/** RMS of a − b. */
export function rmsDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let total = 0;
  for (let i = 0; i < a.length; i++) total += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(total / a.length);
}
