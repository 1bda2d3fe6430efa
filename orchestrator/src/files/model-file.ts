// Reading a file of a model folder (configs, tokenizer, chat template): only a regular file, opened without
// blocking, so a FIFO or a device in the folder is an error naming it instead of a process that waits for ever.
import { closeSync, constants, fstatSync, openSync, type Stats } from "node:fs";

import { readFully } from "./descriptor-io.js";

/** Largest model-folder file read whole (the release's tokenizer.json is 11 MB). */
const LIMIT_BYTES = 256 << 20;

function kindOf(info: Stats): string {
  if (info.isFIFO()) return "a FIFO";
  if (info.isDirectory()) return "a folder";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

/** The bytes of the regular file at `path`; an Error naming the path for anything else. */
export function readModelFile(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${path} is ${kindOf(info)}, not a regular file: a model folder holds plain files`);
    if (info.size > LIMIT_BYTES) throw new Error(`${path} is ${info.size} bytes, more than a model's ${LIMIT_BYTES >> 20} MiB limit for this file`);
    const bytes = Buffer.alloc(info.size);
    return bytes.subarray(0, readFully(fd, bytes, 0));
  } finally {
    closeSync(fd);
  }
}
