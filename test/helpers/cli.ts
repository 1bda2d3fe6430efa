// Runs the built CLI as a user would, in a child process.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";

import { execa } from "execa";

import { enginePids, repoRoot, waitFor } from "./engine.js";

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

/**
 * Starts a long generate (1000 steps), waits until it reports step `step` on stderr (the engine is loaded and
 * denoising), and returns the child, its exit (a run still going 20 s after that counts as hanging: it is killed and
 * reported as "hung"), its engine's PID and its stderr so far.
 */
export async function longRun(args: string[], step = 2) {
  const child = spawn(process.execPath, [cliPath, "generate", ...args, "--steps", "1000"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
  let exitCode: number | null | undefined;
  const ended = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve((exitCode = code))));
  await waitFor(() => new RegExp(`step ${step}/1000`).test(stderr) || exitCode !== undefined, `step ${step}/1000 on stderr`);
  assert.match(stderr, new RegExp(`step ${step}/1000`), `the run ended early (${exitCode}):\n${stderr}`);
  const [engine] = enginePids();
  assert.ok(engine, "no engine process found");
  let hung = false;
  const timer = setTimeout(() => ((hung = true), child.kill("SIGKILL")), 20_000);
  const exited = ended.then((code) => (clearTimeout(timer), hung ? ("hung" as const) : code));
  return { child, exited, engine, stderr: () => stderr };
}
