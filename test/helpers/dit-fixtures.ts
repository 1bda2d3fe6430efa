import { join } from "node:path";

import { toFloat32 } from "../../orchestrator/src/tensors/convert.js";
import { readSafetensors, type TensorData } from "../../orchestrator/src/tensors/safetensors.js";
import { repoRoot } from "./engine.js";

export const ditFixtures = join(repoRoot, "test", "fixtures", "dit");

/** A DiT parity case from tools/reference/make_dit_fixtures.py. */
export interface DiTCase {
  modelDir: string;
  latents: TensorData;
  text: TensorData;
  mask?: TensorData;
  timesteps: Float32Array;
  expected: TensorData;
  grid: { height: number; width: number };
}

export function loadDiTCase(name: string): DiTCase {
  const file = readSafetensors(join(ditFixtures, `${name}.safetensors`));
  const get = (key: string) => {
    const tensor = file.tensors.get(key);
    if (!tensor) throw new Error(`${name}: fixture tensor ${key} is missing`);
    return tensor;
  };
  const grid = toFloat32(get("grid"));
  return {
    modelDir: join(ditFixtures, file.metadata.model!),
    latents: get("latents"),
    text: get("text"),
    mask: file.tensors.get("mask"),
    timesteps: toFloat32(get("timestep")),
    expected: get("output"),
    grid: { height: grid[0]!, width: grid[1]! },
  };
}

/** Row `index` of the leading axis. */
export function row(tensor: TensorData, index: number): TensorData {
  const [count, ...rest] = tensor.shape;
  const size = tensor.data.length / count!;
  return { dtype: tensor.dtype, shape: rest, data: tensor.data.subarray(index * size, (index + 1) * size) };
}

export function rms(values: Float32Array): number {
  let total = 0;
  for (const value of values) total += value * value;
  return Math.sqrt(total / values.length);
}

export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
