// One error style for the CLI — "nucleus-image: error: WHAT; HOW TO FIX" on standard error — and one exit code
// per kind: 2 for a wrong command line (usage), 1 for a failure while running, 130 for Ctrl-C.
import { CommanderError } from "@commander-js/extra-typings";

import { ImageFormatError } from "../image/encode.js";
import { GenerationCancelledError } from "../pipeline/generate.js";
import { GenerateOptionsError } from "../request/generate-request.js";

export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A wrong command line: a missing, conflicting or invalid argument. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  if (error instanceof UsageError || error instanceof GenerateOptionsError || error instanceof ImageFormatError) return EXIT_USAGE;
  if (error instanceof GenerationCancelledError) return EXIT_INTERRUPTED;
  return EXIT_RUNTIME;
}

export function printError(message: string): void {
  process.stderr.write(`nucleus-image: error: ${message.replace(/^error: /, "")}\n`);
}

export function printWarning(message: string): void {
  process.stderr.write(`nucleus-image: warning: ${message}\n`);
}

export function printNote(message: string): void {
  process.stderr.write(`nucleus-image: note: ${message}\n`);
}

/** Prints `error` in the CLI's style and sets the exit code; commander has printed its own usage errors already. */
export function reportError(error: unknown): void {
  const code = exitCodeFor(error);
  if (!(error instanceof CommanderError)) {
    printError(error instanceof Error ? error.message : String(error));
  }
  process.exitCode = code;
}
