// The private folders that hold an engine's Unix socket: $TMPDIR/nucleus-XXXXXX, mode 0700. The engine removes
// its socket when it stops and we remove the folder; a process killed with SIGKILL cannot, so stale empty folders
// of ours are cleaned up when the next engine starts.
import { lstatSync, mkdtempSync, readdirSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PREFIX = "nucleus-";
const NAME = /^nucleus-[A-Za-z0-9]{6}$/;
/** Younger folders may belong to an engine that is still starting. */
const STALE_AFTER_MS = 10 * 60 * 1000;

export function makeSocketFolder(): string {
  return mkdtempSync(join(tmpdir(), PREFIX));
}

/** Removes empty nucleus-XXXXXX folders of this user older than ten minutes; returns the paths removed. */
export function removeStaleSocketFolders(now = Date.now(), root = tmpdir()): string[] {
  const removed: string[] = [];
  const uid = process.getuid?.();
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of entries) {
    if (!NAME.test(name)) continue;
    const path = join(root, name);
    try {
      const info = lstatSync(path);
      const ours = info.isDirectory() && (uid === undefined || info.uid === uid) && (info.mode & 0o777) === 0o700;
      if (!ours || now - info.mtimeMs < STALE_AFTER_MS) continue;
      rmdirSync(path); // fails unless empty: a folder with a live socket in it stays
      removed.push(path);
    } catch {
      // not empty, not ours, or gone meanwhile
    }
  }
  return removed;
}
