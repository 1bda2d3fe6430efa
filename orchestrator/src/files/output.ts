// Output files: checked before any work starts, written to an exclusive temporary file next to the target and
// moved into place only when complete, so a full disk, a file-size limit or a crash never leaves a partial file,
// and nothing existing is replaced unless the user asked for it. Every error names the path.
import { randomBytes } from "node:crypto";
import {
  accessSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync,
  renameSync, rmdirSync, statSync, unlinkSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

import { writeFully } from "./descriptor-io.js";

export class OutputExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists: choose another output path or pass --force to overwrite it`);
    this.name = "OutputExistsError";
  }
}

/** An output path that cannot be used or written (a folder, no permission, disk full, ...). */
export class OutputPathError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = "OutputPathError";
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: "the disk is full (no space left on the device)",
  EDQUOT: "the disk quota is used up",
  EFBIG: "the file is larger than this process may write (see ulimit -f)",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  EISDIR: "it is a folder",
  ENOTDIR: "a part of the path is a file, not a folder",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the name is too long",
  EIO: "an input/output error",
};

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code && REASONS[code] ? `${REASONS[code]}, ${code}` : (error as Error).message) ?? String(error);
}

/** The nearest folder that exists on the way up from `directory`. */
function existingAncestor(directory: string): string {
  let current = directory;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/**
 * Checks, before any work, that `path` can be written: it is not a folder; it does not exist unless `force`; its
 * folder exists (or can be made) and is writable.
 */
export function checkOutputPath(path: string, force: boolean): void {
  const target = resolve(path);
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw new OutputPathError(target, `cannot use ${target} as an output: ${reason(error)}`);
  }
  if (existing) {
    const isFolder = existing.isDirectory() || (existing.isSymbolicLink() && existsSync(target) && statSync(target).isDirectory());
    if (isFolder) {
      throw new OutputPathError(target, `${target} is a folder: give a file name inside it, e.g. ${join(target, "image.png")}`);
    }
    if (!force) throw new OutputExistsError(target);
  }
  const folder = dirname(target);
  const ancestor = existingAncestor(folder);
  if (!statSync(ancestor).isDirectory()) {
    throw new OutputPathError(target, `cannot write ${target}: ${ancestor} is a file, not a folder`);
  }
  try {
    accessSync(ancestor, constants.W_OK | constants.X_OK);
  } catch {
    throw new OutputPathError(
      target,
      ancestor === folder
        ? `cannot write ${target}: the folder ${folder} is not writable`
        : `cannot write ${target}: the folder ${folder} does not exist and ${ancestor} is not writable to create it`,
    );
  }
}

/** Creates `folder` and its missing parents; returns the ones created, deepest first (for undoing). */
function makeFolders(folder: string): string[] {
  const created: string[] = [];
  for (let current = folder; !existsSync(current); current = dirname(current)) created.push(current);
  if (created.length) mkdirSync(folder, { recursive: true });
  return created;
}

function removeFolders(created: string[]): void {
  for (const folder of created) {
    try {
      rmdirSync(folder);
    } catch {
      return; // not empty any more (someone else wrote there): leave it
    }
  }
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Creates `path` for writing; fails if anything (a file, a symbolic link) is already there. */
export function openExclusive(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
}

/** A temporary file beside the target, created exclusively and never through a symbolic link. */
function writeTemporary(target: string, bytes: Buffer): string {
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.partial`);
  const fd = openExclusive(temporary);
  try {
    writeFully(fd, bytes);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    tryUnlink(temporary);
    throw error;
  }
  closeSync(fd);
  return temporary;
}

/** Moves a complete temporary file to `target`; without `force` an existing file (even a new one) wins. */
function commit(temporary: string, target: string, force: boolean): void {
  if (force) {
    renameSync(temporary, target);
    return;
  }
  try {
    linkSync(temporary, target); // fails if the target exists: no check-then-write race
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw error;
    copyFileSync(temporary, target, constants.COPYFILE_EXCL); // file systems without hard links
  }
  unlinkSync(temporary);
}

let fileSizeSignalHandled = false;

/**
 * Over a file-size limit (ulimit -f) the kernel sends SIGXFSZ. Node ignores it, so the write fails with EFBIG and
 * we can clean up; but execa's exit handler (signal-exit) listens to it and re-raises it when it is the only
 * listener, which would kill us mid-write. A listener of our own keeps it an error.
 */
function handleFileSizeSignal(): void {
  if (fileSizeSignalHandled || process.platform === "win32") return;
  process.on("SIGXFSZ", () => undefined);
  fileSizeSignalHandled = true;
}

/**
 * Writes several files as one: all are written to temporary files first and moved into place only when every
 * one is complete. On any failure nothing new is left behind (no temporary file, no created folder).
 */
export function writeFilesAtomic(files: { path: string; bytes: Buffer }[], force: boolean): void {
  handleFileSizeSignal();
  const staged: { temporary: string; target: string }[] = [];
  const createdFolders: string[] = [];
  const committed: string[] = [];
  let current = "";
  try {
    for (const file of files) {
      current = resolve(file.path);
      createdFolders.push(...makeFolders(dirname(current)));
      staged.push({ temporary: writeTemporary(current, file.bytes), target: current });
    }
    for (const { temporary, target } of staged) {
      current = target;
      commit(temporary, target, force);
      committed.push(target);
    }
  } catch (error) {
    for (const { temporary } of staged) tryUnlink(temporary);
    if (!force) committed.forEach(tryUnlink); // they did not exist before: leave no half-written set
    removeFolders(createdFolders);
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new OutputExistsError(current);
    if ((error as NodeJS.ErrnoException).code === "EISDIR") {
      throw new OutputPathError(current, `${current} is a folder: give a file name inside it, e.g. ${join(current, "image.png")}`);
    }
    throw new OutputPathError(current, `cannot write ${current}: ${reason(error)}; nothing was written`);
  }
}

/** Writes one file atomically (see writeFilesAtomic). */
export function writeFileAtomic(path: string, bytes: Buffer, force: boolean): void {
  writeFilesAtomic([{ path, bytes }], force);
}
