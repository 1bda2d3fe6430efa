// --from-image FILE: the parameters stored in an image made by us (prompt, negative prompt, system prompt, seed,
// steps, cfg, size, quantization, dtype), used wherever the command line does not say otherwise.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { readImageMetadata } from "../image/encode.js";
import type { ImageMetadata } from "../image/metadata.js";
import { UsageError } from "./errors.js";

export async function readImageParameters(path: string): Promise<ImageMetadata> {
  const file = resolve(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read --from-image ${file}: ${(error as Error).message}`);
  }
  let entries: Record<string, string>;
  try {
    entries = await readImageMetadata(bytes);
  } catch (error) {
    throw new UsageError(`--from-image ${file} is not a PNG, JPEG or WebP image we can read (${(error as Error).message})`);
  }
  const json = entries["nucleus-image"];
  if (json === undefined) {
    throw new UsageError(`${file} carries no nucleus-image parameters (it was written with --no-metadata, or by another program)`);
  }
  try {
    return JSON.parse(json) as ImageMetadata;
  } catch {
    throw new UsageError(`${file}: its nucleus-image parameters are not valid JSON`);
  }
}

/** "8-bit (group 64)" → 8; "none" → undefined. */
export function quantizationBitsOf(text: string | undefined): number | undefined {
  const match = /^(\d+)-bit/.exec(text ?? "");
  return match ? Number(match[1]) : undefined;
}
