// Transport safety: a token on TCP (checked by the engine, passed by the orchestrator out of sight), the default
// socket in a private folder, deadlines on every call, and a watchdog that ends an engine that stopped answering.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineClient } from "../orchestrator/src/engine/client.js";
import { DEFAULT_DEADLINES, DeadlineKeeper } from "../orchestrator/src/engine/deadlines.js";
import { EngineCallError, EngineDiedError } from "../orchestrator/src/engine/errors.js";
import { launchCommand, locateEngine } from "../orchestrator/src/engine/locate.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { enginePids, waitForExit } from "./helpers/engine.js";

/** Starts the engine binary directly with `env`, returns its ready line's address and the process. */
async function startRaw(env: NodeJS.ProcessEnv, args: string[] = []) {
  const { file, prefix } = launchCommand(locateEngine());
  const child = spawn(file, [...prefix, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`engine exited with ${code}`)));
  });
  return { child, address: (JSON.parse(line) as { address: string }).address };
}

describe("engine transport safety", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "nucleus-security-"));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("over TCP the orchestrator gives the engine a random token through the environment; calls without it are refused", async () => {
    const engine = await LocalEngine.start({ port: 0 });
    try {
      const token = engine.authToken!;
      assert.ok(token.length >= 32);
      assert.equal((await engine.client.health()).serving, true);
      assert.ok(!readFileSync(`/proc/${engine.pid}/cmdline`, "utf8").includes(token), "the token is visible in the command line");
      for (const wrong of [undefined, "wrong", `${token}x`, token.slice(0, -1)]) {
        const client = new EngineClient(engine.ready.address, undefined, { token: wrong });
        try {
          await assert.rejects(client.getInfo(), (error: EngineCallError) => {
            assert.equal(error.code, status.UNAUTHENTICATED);
            assert.match(error.message, /^the engine refused GetInfo: missing or wrong token: send the metadata 'authorization: Bearer <token>'/);
            return true;
          });
        } finally {
          client.close();
        }
      }
    } finally {
      await engine.stop();
    }
  });

  test("TCP without a token works but warns on stderr", async () => {
    const lines: string[] = [];
    const engine = await LocalEngine.start({ port: 0, token: "", onStderr: (line) => lines.push(line) });
    try {
      assert.equal((await engine.client.health()).serving, true);
      assert.ok(lines.some((line) => /warning: listening on TCP without a token: any local user can call this engine/.test(line)), lines.join("\n"));
    } finally {
      await engine.stop();
    }
  });

  test("without XDG_RUNTIME_DIR the default socket is in a fresh 0700 folder, removed at exit", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: root };
    delete env.XDG_RUNTIME_DIR;
    delete env.NUCLEUS_ENGINE_TOKEN;
    const { child, address } = await startRaw(env);
    const socket = address.replace(/^unix:/, "");
    const folder = dirname(socket);
    assert.match(folder, new RegExp(`^${root}/nucleus-[A-Za-z0-9]{6}$`));
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    assert.equal(statSync(folder).uid, process.getuid!());
    // A second engine gets a folder of its own instead of fighting over one predictable path.
    const second = await startRaw(env);
    assert.notEqual(second.address, address);
    for (const running of [child, second.child]) {
      running.kill("SIGTERM");
      assert.ok(await waitForExit(running.pid!, 10_000));
    }
    assert.equal(existsSync(folder), false);
    assert.equal(existsSync(dirname(second.address.replace(/^unix:/, ""))), false);
  });

  test("deadlines grow with the work, and with the speed seen", () => {
    const keeper = new DeadlineKeeper();
    keeper.noteModel({ modelDir: "", loadSeconds: 0, components: [{ name: "transformer", dtype: "", parameterCount: 1e9, bytes: 0, quantization: "", checkpointParameterCount: 0, weightDtype: "" }] });
    const latents = (tokens: number) => ({ shape: [tokens, 64], data: new Uint8Array(tokens * 256) });
    const small = keeper.deadlineMs("denoise", { latents: latents(16), conditioning: [1], gridHeight: 4, gridWidth: 4 });
    const large = keeper.deadlineMs("denoise", { latents: latents(4096), conditioning: [1, 2], gridHeight: 64, gridWidth: 64 });
    assert.equal(keeper.deadlineMs("health", {}), DEFAULT_DEADLINES.controlMs);
    assert.ok(small >= DEFAULT_DEADLINES.minimumMs && large > 100 * small, `${small} ${large}`);
    keeper.observe("denoise", { gridHeight: 64, gridWidth: 64, conditioning: [1, 2] }, 3000);
    assert.equal(keeper.deadlineMs("denoise", { latents: latents(4096), conditioning: [1, 2], gridHeight: 64, gridWidth: 64 }), DEFAULT_DEADLINES.minimumMs + 30_000);
  });

  // Without deadlines this would wait for ever: the timeout turns that into a failure.
  test("a stopped engine: calls end at their deadline, and the watchdog stops it so calls in flight fail", { timeout: 60_000 }, async () => {
    const engine = await LocalEngine.start({ deadlines: { controlMs: 1000 }, watchdog: false });
    try {
      process.kill(engine.pid!, "SIGSTOP");
      const started = Date.now();
      await assert.rejects(engine.client.health(), /Health did not finish within its deadline of 1 s: the engine may be stuck/);
      assert.ok(Date.now() - started < 5000);
      process.kill(engine.pid!, "SIGCONT");
      assert.equal((await engine.client.health()).serving, true);
    } finally {
      await engine.stop();
    }

    const watched = await LocalEngine.start({ watchdog: { intervalMs: 200, timeoutMs: 300, misses: 2 } });
    const pid = watched.pid!;
    try {
      process.kill(pid, "SIGSTOP");
      const started = Date.now();
      await assert.rejects(watched.client.health({ timeoutMs: 60_000 }), (error: Error) => {
        assert.ok(error instanceof EngineDiedError, String(error));
        assert.match(error.message, /^the engine process stopped answering \(no reply to Health for \d+ s\) and was stopped during Health/);
        return true;
      });
      assert.ok(Date.now() - started < 10_000);
      assert.ok(await waitForExit(pid, 5000));
    } finally {
      await watched.stop();
    }
  });
});
