// Reading and writing safetensors files (the format diffusers and transformers use), with the same consistency
// checks as the engine: a truncated or corrupt file is an error naming it, never garbage.
import { readFileSync } from "node:fs";

import { writeFileAtomic } from "../files/output.js";

/** A tensor as raw little-endian bytes with its safetensors dtype code ("F32", "BF16", ...). */
export interface TensorData {
  dtype: string;
  shape: number[];
  data: Buffer;
}

export const ELEMENT_SIZES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

export interface SafetensorsFile {
  tensors: Map<string, TensorData>;
  metadata: Record<string, string>;
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new SafetensorsError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (bytes.length < 8) throw new SafetensorsError(`${path} is truncated: ${bytes.length} bytes is too short for a safetensors file`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) {
    throw new SafetensorsError(`${path} is not a valid safetensors file (header length ${headerLength}, file size ${bytes.length})`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new SafetensorsError(`${path} has a corrupt safetensors header (not valid JSON)`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, TensorData>();
  let metadata: Record<string, string> = {};
  let dataEnd = 0;
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = ELEMENT_SIZES[entry.dtype];
    if (size === undefined) throw new SafetensorsError(`${path}: tensor ${name} has unknown dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const expected = entry.shape.reduce((a, b) => a * b, 1) * size;
    if (end - begin !== expected) {
      throw new SafetensorsError(`${path}: tensor ${name} (${entry.dtype} [${entry.shape}]) needs ${expected} bytes but its offsets span ${end - begin}`);
    }
    dataEnd = Math.max(dataEnd, end);
    if (dataStart + end > bytes.length) continue; // reported as truncation below
    tensors.set(name, { dtype: entry.dtype, shape: entry.shape, data: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  if (dataStart + dataEnd !== bytes.length) {
    throw new SafetensorsError(
      dataStart + dataEnd > bytes.length
        ? `${path} is truncated: the header describes ${dataStart + dataEnd} bytes but the file has ${bytes.length}`
        : `${path} is corrupt: ${bytes.length - dataStart - dataEnd} bytes follow the last tensor`,
    );
  }
  return { tensors, metadata };
}

/** The safetensors file for `tensors` (sorted by name), as bytes. */
export function serializeSafetensors(tensors: Record<string, TensorData>, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors[name]!;
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.length] };
    offset += tensor.data.length;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  // Spaces align the data section to 8 bytes (counted in UTF-8 bytes: metadata may hold any text).
  const headerBytes = Buffer.concat([json, Buffer.from(" ".repeat((8 - (json.length % 8)) % 8))]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([prefix, headerBytes, ...names.map((name) => tensors[name]!.data)]);
}

/** Writes a safetensors file atomically; an existing file is replaced only when `force` (the default). */
export function writeSafetensors(
  path: string, tensors: Record<string, TensorData>, metadata: Record<string, string> = {}, { force = true } = {},
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata), force);
}
