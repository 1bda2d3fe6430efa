// Inputs from files, in diffusers' names and layouts: prompt embeddings (`prompt_embeds` [1, L, D] with an
// optional `prompt_embeds_mask` [1, L]) and initial packed latents (`latents` [1, S, C]).
import { toFloat32, float32Tensor } from "../tensors/convert.js";
import { readSafetensors, type TensorData } from "../tensors/safetensors.js";

export class InputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputFileError";
  }
}

export interface PromptEmbedding {
  /** [L, D] */
  embedding: TensorData;
  /** [L] (1 = real token), when the file has one. */
  mask?: TensorData;
}

function dropBatch(tensor: TensorData, path: string, name: string, rank: number): TensorData {
  if (tensor.shape.length === rank + 1) {
    if (tensor.shape[0] !== 1) {
      throw new InputFileError(`${path}: ${name} has batch ${tensor.shape[0]}; one prompt per file is supported`);
    }
    return { ...tensor, shape: tensor.shape.slice(1) };
  }
  if (tensor.shape.length !== rank) {
    throw new InputFileError(`${path}: ${name} has shape [${tensor.shape}], expected ${rank === 2 ? "[1, L, D]" : "[1, L]"}`);
  }
  return tensor;
}

/** Reads prompt embeddings; `width` is the transformer's joint_attention_dim. */
export function readPromptEmbedding(path: string, width: number): PromptEmbedding {
  let file;
  try {
    file = readSafetensors(path);
  } catch (error) {
    throw new InputFileError((error as Error).message);
  }
  // A negative-embeddings file may use diffusers' argument names too.
  const raw = file.tensors.get("prompt_embeds") ?? file.tensors.get("negative_prompt_embeds");
  if (!raw) {
    throw new InputFileError(`${path} has no prompt_embeds tensor (found: ${[...file.tensors.keys()].join(", ") || "none"})`);
  }
  if (!["F32", "BF16", "F16"].includes(raw.dtype)) throw new InputFileError(`${path}: prompt_embeds is ${raw.dtype}, expected a float tensor`);
  const embedding = dropBatch(raw, path, "prompt_embeds", 2);
  if (embedding.shape[1] !== width) {
    throw new InputFileError(`${path}: prompt_embeds is ${embedding.shape[1]} wide but the model's text width (joint_attention_dim) is ${width}`);
  }
  if (embedding.shape[0] === 0) throw new InputFileError(`${path}: prompt_embeds has no tokens`);
  const rawMask = file.tensors.get("prompt_embeds_mask") ?? file.tensors.get("negative_prompt_embeds_mask");
  let mask: TensorData | undefined;
  if (rawMask) {
    mask = dropBatch(rawMask, path, "prompt_embeds_mask", 1);
    if (mask.shape[0] !== embedding.shape[0]) {
      throw new InputFileError(`${path}: prompt_embeds_mask has ${mask.shape[0]} entries for ${embedding.shape[0]} tokens`);
    }
    // The engine takes masks as float; 1 = real token.
    mask = float32Tensor(toFloat32(mask), [embedding.shape[0]!]);
  }
  return { embedding, mask };
}

/** Reads initial packed latents [1, S, C] (or [S, C]) and checks them against the grid and channel count. */
export function readLatents(path: string, tokens: number, channels: number): Float32Array {
  let file;
  try {
    file = readSafetensors(path);
  } catch (error) {
    throw new InputFileError((error as Error).message);
  }
  const raw = file.tensors.get("latents");
  if (!raw) throw new InputFileError(`${path} has no latents tensor (found: ${[...file.tensors.keys()].join(", ") || "none"})`);
  const shape = raw.shape.length === 3 && raw.shape[0] === 1 ? raw.shape.slice(1) : raw.shape;
  if (shape.length !== 2 || shape[0] !== tokens || shape[1] !== channels) {
    throw new InputFileError(
      `${path}: latents have shape [${raw.shape}] but this size needs packed latents [1, ${tokens}, ${channels}] (diffusers' prepare_latents layout)`,
    );
  }
  return toFloat32(raw);
}
