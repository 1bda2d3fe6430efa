// Runs the built CLI as a user would, in a child process.
import { join } from "node:path";

import { execa } from "execa";

import { repoRoot } from "./engine.js";

export const cliPath = join(repoRoot, "dist", "orchestrator", "src", "cli", "main.js");

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string; shellPrefix?: string } = {},
): Promise<CliResult> {
  // shellPrefix runs the CLI under a shell command first (e.g. "ulimit -f 4;").
  const result = options.shellPrefix
    ? await execa("bash", ["-c", `${options.shellPrefix} exec "$0" "$@"`, process.execPath, cliPath, ...args], { reject: false, env: options.env, cwd: options.cwd })
    : await execa(process.execPath, [cliPath, ...args], { reject: false, env: options.env, input: options.input, cwd: options.cwd });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
