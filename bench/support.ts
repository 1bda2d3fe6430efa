// What the benchmarks share: the reference Python environment and its scripts, the cached bench models, command
// line arguments and summary statistics.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { packageRoot } from "../orchestrator/src/engine/locate.js";

export const root = packageRoot();

/** Random-weight models the benchmarks make once and keep in the cache folder. */
export const benchModels = join(
  process.env.NUCLEUS_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME!, ".cache"), "nucleus-image"),
  "bench-models",
);

/** The reference environment's python (PyTorch, diffusers, transformers); an error saying how to install it. */
export function referencePython(): string {
  const python = join(root, ".deps", "reference-python", "bin", "python");
  if (!existsSync(python)) throw new Error("the reference environment is missing: run `npm run setup:reference`");
  return python;
}

/** Runs a script of bench/reference/ and returns its standard output (its progress output is dropped). */
export function runReference(script: string, args: string[]): string {
  return execFileSync(referencePython(), [join(root, "bench", "reference", script), ...args], {
    encoding: "utf8", stdio: ["ignore", "pipe", "ignore"],
  });
}

/** The value after `--name` on the command line. */
export function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}

export function numberArgument(name: string, fallback: number): number {
  const text = argument(name);
  return text === undefined ? fallback : Number(text);
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
