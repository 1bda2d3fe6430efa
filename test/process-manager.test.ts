// The orchestrator's engine process manager: start failures, a dying engine, restarts, and no orphans.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import { EngineDiedError, EngineStartError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { enginePids, isAlive, repoRoot, startInFlight, waitForExit } from "./helpers/engine.js";

const fakeEngine = (name: string) => ({ binary: join(repoRoot, "test", "fixtures", "fake-engines", name) });
const childScript = join(repoRoot, "dist", "test", "helpers", "spawn-engine-child.js");

describe("engine process manager", () => {
  after(() => {
    assert.deepEqual(enginePids(), [], "engine processes left running after the tests");
  });

  test("a missing binary is a clear start error", async () => {
    await assert.rejects(LocalEngine.start({ launch: { binary: "/nonexistent/nucleus-engine" } }), (error: Error) => {
      assert.ok(error instanceof EngineStartError);
      assert.match(error.message, /does not exist.*npm run setup/);
      return true;
    });
  });

  test("no ready line within the timeout: the process is killed and the error says so", async () => {
    const started = Date.now();
    await assert.rejects(
      LocalEngine.start({ launch: fakeEngine("silent.sh"), readyTimeoutMs: 500 }),
      (error: Error) => {
        assert.ok(error instanceof EngineStartError);
        assert.match(error.message, /did not print its ready line within 500 ms/);
        assert.match(error.message, /fake engine: starting slowly/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000);
    const leftover = enginePids();
    assert.deepEqual(leftover, []);
  });

  test("an engine that exits before it is ready: exit code and its stderr in the error", async () => {
    await assert.rejects(LocalEngine.start({ launch: fakeEngine("crash.sh") }), (error: Error) => {
      assert.ok(error instanceof EngineStartError);
      assert.match(error.message, /exited with code 3 before it was ready/);
      assert.match(error.message, /cannot open libmlx\.so/);
      return true;
    });
  });

  test("engine killed mid-call: a clear EngineDiedError, then a working restart", async () => {
    const engine = await LocalEngine.start();
    const firstPid = engine.pid!;
    const { call } = await startInFlight(engine.client, () => engine.client.getInfo({ benchmarkMatmulSize: 4096 }));
    process.kill(firstPid, "SIGKILL");
    await assert.rejects(call, (error: Error) => {
      assert.ok(error instanceof EngineDiedError, String(error));
      assert.match(error.message, /killed by SIGKILL during GetInfo; it may have run out of memory: use less with --quantize 4/);
      assert.match(error.message, /Start it again to continue \(library: await model\.restart\(\)/);
      assert.match(error.message, /restart/);
      return true;
    });
    assert.equal(engine.running, false);
    await engine.restart();
    assert.notEqual(engine.pid, firstPid);
    const info = await engine.client.getInfo({ selfCheck: true });
    assert.ok(info.selfCheck?.passed);
    await engine.stop();
    assert.equal(isAlive(firstPid), false);
  });

  for (const [how, signal] of [
    ["parent killed with SIGKILL", "SIGKILL"],
    ["parent killed with SIGTERM", "SIGTERM"],
    ["parent exits without stopping the engine", null],
  ] as const) {
    test(`no orphan engine when the ${how}`, async () => {
      const child = spawn(process.execPath, [childScript, signal ? "wait" : "exit-without-stop"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const enginePid = await new Promise<number>((resolve, reject) => {
        child.stdout.once("data", (data: Buffer) => resolve(Number(data.toString().trim())));
        child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
      });
      assert.ok(isAlive(enginePid));
      if (signal) child.kill(signal);
      await new Promise((resolve) => child.once("exit", resolve));
      assert.ok(await waitForExit(enginePid, 15_000), `engine ${enginePid} outlived its parent (${how})`);
    });
  }
});
