// Output files are written atomically (a temporary file moved into place) and never over an existing file unless
// the user asked for it.
import { existsSync, linkSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export class OutputExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists: choose another output path or pass --force to overwrite it`);
    this.name = "OutputExistsError";
  }
}

/** Refuses an existing path unless `force`, and a path whose folder does not exist. */
export function checkWritable(path: string, force: boolean): void {
  if (!force && existsSync(path)) throw new OutputExistsError(path);
  if (!existsSync(dirname(path) || ".")) throw new Error(`the folder of ${path} does not exist`);
}

/** Writes `bytes` to `path` atomically; without `force` an existing file (even one that appeared meanwhile) wins. */
export function writeFileAtomic(path: string, bytes: Buffer, force: boolean): void {
  const temporary = join(dirname(path) || ".", `.${process.pid}-${Date.now()}.partial`);
  writeFileSync(temporary, bytes);
  try {
    if (force) {
      renameSync(temporary, path);
    } else {
      linkSync(temporary, path); // fails if the path exists: no check-then-write race
      unlinkSync(temporary);
    }
  } catch (error) {
    if (existsSync(temporary)) unlinkSync(temporary);
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new OutputExistsError(path);
    throw error;
  }
}
