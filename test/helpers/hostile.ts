// Building blocks of the reliability tests (issue 11): raw requests with any field value, float payloads, and
// scratch copies of the tiny models with something changed.
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type * as grpc from "@grpc/grpc-js";

import type { LocalEngine } from "../../orchestrator/src/engine/process.js";
import { readSafetensors, writeSafetensors } from "../../orchestrator/src/tensors/safetensors.js";
import { connect, rawCall, type Method } from "../../tools/fuzz/rpc.js";
import { Wire } from "../../tools/fuzz/wire.js";
import { repoRoot } from "./engine.js";

export { Wire };

export const pipelineModel = join(repoRoot, "test", "fixtures", "pipeline", "tiny");
export const tinyA = join(repoRoot, "test", "fixtures", "dit", "tiny-a");
export const tinyABf16 = join(repoRoot, "test", "fixtures", "dit", "tiny-a-bf16");

/** Sends `message` as the request of `method` (unary or streaming) and returns the final status and message. */
export async function send(engine: LocalEngine, method: Method, message: Wire | Buffer, deadlineMs = 30_000): Promise<{ code: grpc.status; details: string; responses: Buffer[] }> {
  const client = connect(engine.ready.address);
  try {
    return await rawCall(client, method, message instanceof Wire ? message.finish() : message, deadlineMs);
  } finally {
    client.close();
  }
}

/** A proto Tensor message with any shape (64-bit values allowed) and bytes. */
export function tensorMessage(dtype: number, shape: readonly (number | bigint)[], data: Buffer = Buffer.alloc(0)): Wire {
  return new Wire().varint(1, dtype).packed(2, shape).bytes(3, data);
}

/** `count` float32 values from `value(i)` as little-endian bytes. */
export function floats(count: number, value: number | ((i: number) => number)): Buffer {
  const bytes = Buffer.alloc(count * 4);
  for (let i = 0; i < count; i++) bytes.writeFloatLE(typeof value === "function" ? value(i) : value, i * 4);
  return bytes;
}

/** Values of the size latents and embeddings have (deterministic). */
export const ordinary = (i: number) => Math.sin(i * 0.37) * 0.8;

/** A copy of `fixture` in a fresh temporary folder (returned: the folder and the copy inside it). */
export function copyModel(fixture: string, prefix = "nucleus-reliability-"): { scratch: string; model: string } {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  const model = join(scratch, "model");
  cpSync(fixture, model, { recursive: true });
  return { scratch, model };
}

/** Edits `component/config.json` of a model folder. */
export function editConfig(model: string, component: string, edit: (config: Record<string, unknown>) => void): void {
  const path = join(model, component, "config.json");
  const config = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config));
}

/** Rewrites the shard of `component` that holds `tensor`, replacing that tensor's bytes with `fill`. */
export function overwriteTensor(model: string, component: string, tensor: string, fill: (bytes: Buffer) => void): void {
  const folder = join(model, component);
  const index = readdirSync(folder).find((name) => name.endsWith(".safetensors.index.json"));
  const shard = index
    ? (JSON.parse(readFileSync(join(folder, index), "utf8")) as { weight_map: Record<string, string> }).weight_map[tensor]!
    : readdirSync(folder).find((name) => name.endsWith(".safetensors"))!;
  const file = readSafetensors(join(folder, shard));
  const target = file.tensors.get(tensor);
  if (!target) throw new Error(`${tensor} is not in ${shard}`);
  fill(target.data);
  writeSafetensors(join(folder, shard), Object.fromEntries(file.tensors), file.metadata);
}
