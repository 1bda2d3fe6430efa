// What the benchmarks share: the reference Python environment and its scripts, the cached bench models, command
// line arguments and summary statistics.
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
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

/**
 * A reference script kept running in `serve` mode: one JSON request per line on its standard input, one JSON answer
 * per line on its output. Lets a benchmark alternate single runs of ours and theirs without restarting Python.
 */
export class ReferenceProcess {
  private readonly child;
  private readonly answers: AsyncIterator<string>;

  constructor(script: string, args: string[]) {
    this.child = spawn(referencePython(), [join(root, "bench", "reference", script), "serve", ...args], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.answers = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  async request<T>(message: object): Promise<T> {
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
    const answer = await this.answers.next();
    if (answer.done) throw new Error(`the reference process ended (exit code ${this.child.exitCode})`);
    return JSON.parse(answer.value) as T;
  }

  close(): void {
    this.child.stdin!.end();
  }
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
