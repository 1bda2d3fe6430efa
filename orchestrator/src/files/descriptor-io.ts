// Whole reads and writes on an open file descriptor: readSync and writeSync may move fewer bytes than asked.
import { readSync, writeSync } from "node:fs";

/** Writes all of `data` at `position` (at the descriptor's own offset when null), continuing after short writes. */
export function writeFully(fd: number, data: Uint8Array, position: number | null = null): void {
  for (let done = 0; done < data.byteLength; ) {
    done += writeSync(fd, data, done, data.byteLength - done, position === null ? null : position + done);
  }
}

/** Reads from `position` until `target` is full or the file ends; the number of bytes read. */
export function readFully(fd: number, target: Uint8Array, position: number): number {
  let done = 0;
  while (done < target.byteLength) {
    const read = readSync(fd, target, done, target.byteLength - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return done;
}
