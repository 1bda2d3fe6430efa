// The release layout (tools/reference/make_release_layout.py wrote it from diffusers and transformers) and the
// choices the checkpoint maker makes on top of it: value scales, shards, and which tensors are holes.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export type Component = "transformer" | "text_encoder" | "vae";

export interface TensorSpec {
  key: string;
  shape: number[];
  bytes: number;
}

export interface ReleaseLayout {
  model_index: Record<string, unknown>;
  configs: Record<Component | "scheduler", Record<string, unknown>>;
  files: Record<Component, { stem: string; shards: number }>;
  tensors: Record<Component, [string, number[], string][]>;
}

export function readLayout(root: string): ReleaseLayout {
  return JSON.parse(readFileSync(join(root, "tools", "full-checkpoint", "release-layout.json"), "utf8")) as ReleaseLayout;
}

export function tensorsOf(layout: ReleaseLayout, component: Component): TensorSpec[] {
  return layout.tensors[component].map(([key, shape]) => ({ key, shape, bytes: 2 * shape.reduce((a, b) => a * b, 1) }));
}

/**
 * Tensors the engine never reads are written as holes (sparse, zero): the vision tower, lm_head, the final norm,
 * the text layers from `textLayers` on (hidden_states[-8] needs layers 0..28), and the VAE's encoder half.
 */
export function isHole(component: Component, key: string, textLayers: number): boolean {
  if (component === "vae") return key.startsWith("encoder.") || key.startsWith("quant_conv.") || key.includes(".time_conv.");
  if (component !== "text_encoder") return false;
  if (!key.startsWith("model.language_model.") || key.startsWith("model.language_model.norm.")) return true;
  const layer = /\.layers\.(\d+)\./.exec(key);
  return layer !== null && Number(layer[1]) >= textLayers;
}

/** Mean and standard deviation of a tensor's values: norm scales near 1, biases small, weights 1/√fan-in. */
export function valueScale(key: string, shape: number[]): { mean: number; std: number } {
  const isNormScale = /(norm|layernorm)[^.]*\.weight$/.test(key) || key.endsWith(".gamma");
  if (isNormScale) return { mean: 1, std: 0.02 };
  if (shape.length === 1) return { mean: 0, std: 0.02 };
  // Stacked experts [E, in, out] multiply x @ W: their fan-in is the middle axis; everything else [out, in, ...].
  const fanIn = key.includes(".experts.") ? shape[1]! : shape.slice(1).reduce((a, b) => a * b, 1);
  return { mean: 0, std: 1 / Math.sqrt(fanIn) };
}

/** Splits tensors (in order) into `count` shards of about equal size, as the release's save_pretrained did. */
export function shardTensors(tensors: TensorSpec[], count: number): TensorSpec[][] {
  const total = tensors.reduce((sum, tensor) => sum + tensor.bytes, 0);
  const target = total / count;
  const shards: TensorSpec[][] = [[]];
  let size = 0;
  for (const tensor of tensors) {
    if (size + tensor.bytes > target * 1.02 && shards[shards.length - 1]!.length > 0 && shards.length < count) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1]!.push(tensor);
    size += tensor.bytes;
  }
  return shards;
}
