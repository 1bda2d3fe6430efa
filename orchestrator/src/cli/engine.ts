// `nucleus-image engine`: the engine in the foreground, started exactly as the orchestrator starts it (the build
// recorded by setup or NUCLEUS_ENGINE_BIN, its loader and libraries, its MLX backend), for programs in other
// languages. It prints the engine's JSON ready line on standard output and stops on Ctrl-C or SIGTERM.
import { spawn } from "node:child_process";

import type { Command } from "@commander-js/extra-typings";

import { launchCommand, locateEngine } from "../engine/locate.js";
import { EXIT_INTERRUPTED, UsageError } from "./errors.js";
import { port } from "./parsers.js";

function declareEngine(program: Command) {
  return program
    .command("engine")
    .description("run the engine in the foreground for gRPC clients in any language; prints its ready line (JSON with the address) and stops on Ctrl-C")
    .option("--socket <path>", "listen on this Unix socket (default: $XDG_RUNTIME_DIR/nucleus-engine-UID.sock, else a fresh private folder under $TMPDIR)")
    .option("--port <n>", "listen on 127.0.0.1:N instead (0 picks a free port; the ready line says which)", port)
    .option("--token <token>", "require 'authorization: Bearer TOKEN' on every call (default $NUCLEUS_ENGINE_TOKEN; use one with --port)");
}

type EngineFlags = ReturnType<ReturnType<typeof declareEngine>["opts"]>;

export function registerEngine(program: Command): void {
  declareEngine(program).action(async (flags) => runEngine(flags));
}

async function runEngine(flags: EngineFlags): Promise<void> {
  if (flags.socket !== undefined && flags.port !== undefined) throw new UsageError("give either --socket or --port, not both");
  const { file, prefix } = launchCommand(locateEngine());
  const listen = flags.port !== undefined ? ["--port", String(flags.port)] : flags.socket !== undefined ? ["--socket", flags.socket] : [];
  const env = { ...process.env };
  // The token goes through the environment: other users can read a process's arguments.
  if (flags.token !== undefined) env.NUCLEUS_ENGINE_TOKEN = flags.token;
  // Its own process group, so a Ctrl-C reaches it once (through us), and our standard-input pipe makes it stop
  // if we are killed.
  const child = spawn(file, [...prefix, ...listen, "--exit-on-stdin-eof"], { stdio: ["pipe", "inherit", "inherit"], detached: true, env });
  let interrupted = false;
  const forward = (signal: NodeJS.Signals) => () => {
    if (signal === "SIGINT") interrupted = true;
    child.kill(signal);
  };
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    process.exitCode = interrupted ? EXIT_INTERRUPTED : signal ? 128 + (signal === "SIGKILL" ? 9 : 15) : (code ?? 1);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
