// The release transformer (17 B parameters, 34 GB of bf16) as sparse files: real headers, shards and index, every
// tensor a hole, so tests can load, inspect and refuse a full-size model without the disk or the reading.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

import { readLayout, shardTensors, tensorsOf } from "../../tools/full-checkpoint/layout.js";
import { repoRoot } from "./engine.js";

export interface SparseOptions {
  /** Tensors to write (default all); the rest are missing from the folder. */
  keep?: (key: string) => boolean;
  /** The name a tensor is stored under (default its own). */
  rename?: (key: string) => string;
}

/** Writes `model/transformer/` in the release layout; returns how many tensors and bytes the folder describes. */
export function writeSparseTransformer(model: string, options: SparseOptions = {}): { tensors: number; bytes: number } {
  const layout = readLayout(repoRoot);
  const folder = join(model, "transformer");
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "config.json"), JSON.stringify(layout.configs.transformer));
  const tensors = tensorsOf(layout, "transformer").filter((tensor) => options.keep?.(tensor.key) ?? true);
  const rename = options.rename ?? ((key: string) => key);
  const weightMap: Record<string, string> = {};
  const shards = shardTensors(tensors, layout.files.transformer.shards);
  shards.forEach((shard, index) => {
    const name = `diffusion_pytorch_model-${String(index + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const tensor of shard) {
      header[rename(tensor.key)] = { dtype: "BF16", shape: tensor.shape, data_offsets: [offset, offset + tensor.bytes] };
      weightMap[rename(tensor.key)] = name;
      offset += tensor.bytes;
    }
    const headerBytes = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(headerBytes.length));
    const fd = openSync(join(folder, name), "wx");
    try {
      writeSync(fd, Buffer.concat([prefix, headerBytes]));
      ftruncateSync(fd, 8 + headerBytes.length + offset);
    } finally {
      closeSync(fd);
    }
  });
  writeFileSync(join(folder, "diffusion_pytorch_model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return { tensors: tensors.length, bytes: tensors.reduce((sum, tensor) => sum + tensor.bytes, 0) };
}
