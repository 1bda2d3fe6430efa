// Runs `nucleus-image serve` as a user would (the built CLI in a child process) and waits for its ready line.
import { createInterface } from "node:readline";

import { execa, type ResultPromise } from "execa";

import { cliPath } from "./cli.js";

export interface ServeReady {
  event: "ready";
  grpc: string;
  http: string | null;
  model: string;
  pid: number;
  version: string;
  protocol: string;
}

export interface RunningServe {
  ready: ServeReady;
  child: ResultPromise;
  stderr(): string;
  /** Sends `signal` and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | undefined>;
}

export async function startServe(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<RunningServe> {
  const child = execa(process.execPath, [cliPath, "serve", ...args], {
    reject: false, buffer: false, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = await new Promise<ServeReady>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve printed no ready line within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as ServeReady);
    });
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${result.exitCode}) before it was ready:\n${stderr}`));
    });
  });
  return {
    ready,
    child,
    stderr: () => stderr,
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      return (await child).exitCode;
    },
  };
}
