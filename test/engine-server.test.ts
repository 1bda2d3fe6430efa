// The engine over a real socket with the real client: info, health, bad input, concurrency, shutdown paths.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError, EngineDiedError } from "../orchestrator/src/engine/errors.js";
import { locateEngine } from "../orchestrator/src/engine/locate.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { healthAnswersDuring, packageVersion, rawUnaryCall, startInFlight, waitForExit } from "./helpers/engine.js";

const SERVICE = "/nucleus.engine.v1.Engine/";

test("the engine binary carries no ICU data: it links FoundationEssentials, not Foundation (about 33 MB more)", () => {
  // One `import Foundation` in the engine's sources links all of ICU into the static binary, which then no longer
  // fits the GPU kit's size limit; the engine's Foundation.swift exports FoundationEssentials instead.
  const binary = readFileSync(locateEngine().binary);
  assert.equal(binary.indexOf("icudt"), -1, "ICU's data table (icudt*) is in the engine: find the `import Foundation`");
});

describe("engine over a Unix socket", () => {
  let engine: LocalEngine;
  before(async () => {
    engine = await LocalEngine.start();
  });
  after(async () => {
    await engine.stop();
  });

  test("GetInfo reports versions, backend, device, memory and a passing MLX self-check", async () => {
    const info = await engine.client.getInfo({ selfCheck: true });
    assert.equal(info.engineVersion, packageVersion);
    assert.equal(info.mlxVersion, "0.32.4");
    assert.equal(info.protocol, "nucleus.engine.v1");
    assert.ok(["cpu", "metal", "cuda"].includes(info.backend));
    assert.equal(info.backend, engine.ready.backend);
    assert.ok(info.deviceName.length > 0);
    assert.equal(info.pid, engine.pid);
    assert.ok(info.memory && info.memory.totalBytes > 0 && info.memory.limitBytes > 0);
    assert.ok(info.selfCheck?.passed, JSON.stringify(info.selfCheck));
    assert.deepEqual(
      info.selfCheck.items.map((item) => item.name.split(" ")[0]),
      ["matmul", "softmax"],
    );
    for (const item of info.selfCheck.items) assert.ok(item.maxAbsError <= item.tolerance);
  });

  test("GetInfo without the self-check omits it", async () => {
    const info = await engine.client.getInfo({});
    assert.equal(info.selfCheck, undefined);
    assert.equal(info.benchmark, undefined);
  });

  test("Health answers serving", async () => {
    const health = await engine.client.health();
    assert.equal(health.serving, true);
    assert.ok(health.uptimeSeconds > 0);
    assert.ok(health.inFlightCalls >= 1);
  });

  test("a garbage payload gets INVALID_ARGUMENT and the engine stays up", async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const result = await rawUnaryCall(engine.ready.address, SERVICE + "GetInfo", garbage);
    assert.equal(result.code, status.INVALID_ARGUMENT);
    assert.match(result.details, /GetInfoRequest/);
    assert.equal((await engine.client.health()).serving, true);
  });

  test("an oversized benchmark request gets INVALID_ARGUMENT with the limit", async () => {
    await assert.rejects(engine.client.getInfo({ benchmarkMatmulSize: 100_000 }), (error: EngineCallError) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.match(error.details, /at most 8192/);
      return true;
    });
  });

  test("an unknown method gets UNIMPLEMENTED and the engine stays up", async () => {
    for (const path of [SERVICE + "Teleport", "/some.other.Service/Call"]) {
      const result = await rawUnaryCall(engine.ready.address, path, Buffer.alloc(0));
      assert.equal(result.code, status.UNIMPLEMENTED, path);
      assert.match(result.details, /unknown method/);
    }
    assert.equal((await engine.client.health()).serving, true);
  });

  test("EncodeText without a text encoder is FAILED_PRECONDITION", async () => {
    await assert.rejects(
      engine.client.encodeText([1, 2]),
      (error: EngineCallError) => error.code === status.FAILED_PRECONDITION && /no text encoder is loaded/.test(error.details),
    );
  });

  test("calls are served concurrently: Health answers while a long GetInfo computes", async () => {
    // The benchmark makes its 4096² inputs on the host first (a tenth of a second or more even beside a fast GPU).
    const slow = engine.client.getInfo({ benchmarkMatmulSize: 4096 });
    const answers = await healthAnswersDuring(engine.client, slow);
    assert.ok(answers >= 3, `only ${answers} Health answers came while the benchmark ran`);
    const info = await slow;
    assert.ok(info.benchmark && info.benchmark.gflops > 0);
  });

  test("the socket is private to the user (mode 0600)", () => {
    const path = engine.ready.address.replace(/^unix:/, "");
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
});

describe("engine shutdown", () => {
  test("SIGTERM while a call is in flight: the call completes, the engine exits 0 and removes its socket", async () => {
    const engine = await LocalEngine.start();
    const pid = engine.pid!;
    const socket = engine.ready.address.replace(/^unix:/, "");
    const { call } = await startInFlight(engine.client, () => engine.client.getInfo({ benchmarkMatmulSize: 4096 }));
    process.kill(pid, "SIGTERM");
    const info = await call;
    assert.ok(info.benchmark && info.benchmark.gflops > 0);
    assert.deepEqual(await engine.waitForExit(10_000), { code: 0, signal: null }, "engine still running after SIGTERM");
    assert.equal(await waitForExit(pid, 1000), true);
    assert.throws(() => statSync(socket));
    await engine.stop();
  });

  test("Shutdown RPC: the engine answers, then exits 0", async () => {
    const engine = await LocalEngine.start();
    const pid = engine.pid!;
    await engine.client.shutdown("test");
    assert.deepEqual(await engine.waitForExit(10_000), { code: 0, signal: null });
    assert.equal(await waitForExit(pid, 1000), true);
    await engine.stop();
  });

  test("a grace period of 0 cancels in-flight calls instead of waiting: the call is cancelled, the engine exits 0", async () => {
    const engine = await LocalEngine.start({ shutdownGraceMs: 0 });
    const pid = engine.pid!;
    const { call } = await startInFlight(engine.client, () => engine.client.getInfo({ benchmarkMatmulSize: 4096 }));
    process.kill(pid, "SIGTERM");
    // gRPC's server cancels the call (UNAVAILABLE "Cancelling all calls"); when the engine has already exited by the
    // time the client looks, the client reports the exit instead, and it must be a clean one. A crash fails both.
    await assert.rejects(call, (error: Error) => {
      if (error instanceof EngineDiedError) {
        assert.deepEqual(error.exit, { code: 0, signal: null }, error.message);
      } else {
        assert.ok(error instanceof EngineCallError, `${error.name}: ${error.message}`);
        assert.equal(error.code, status.UNAVAILABLE, `${status[error.code]}: ${error.details}`);
        assert.match(error.details, /Cancelling all calls/);
      }
      return true;
    });
    assert.deepEqual(await engine.waitForExit(15_000), { code: 0, signal: null }, "the engine did not exit cleanly");
    assert.ok(await waitForExit(pid, 1000));
    await engine.stop();
  });
});

describe("listening options", () => {
  test("--port 0 listens on a free 127.0.0.1 port reported in the ready line", async () => {
    const engine = await LocalEngine.start({ port: 0 });
    try {
      assert.ok(engine.ready.port > 0);
      assert.equal(engine.ready.address, `127.0.0.1:${engine.ready.port}`);
      assert.equal((await engine.client.getInfo({})).engineVersion, packageVersion);
    } finally {
      await engine.stop();
    }
  });

  test("a port already in use is a clear start error", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(LocalEngine.start({ port }), /cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      blocker.close();
    }
  });

  test("a socket path another engine listens on is refused; a stale socket file is reused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nucleus-test-"));
    const socketPath = join(dir, "shared.sock");
    try {
      const first = await LocalEngine.start({ socketPath });
      await assert.rejects(LocalEngine.start({ socketPath }), /already listening/);
      await first.stop();

      // A crashed engine leaves its socket file behind; the next engine must take the path over.
      const crashed = await LocalEngine.start({ socketPath });
      process.kill(crashed.pid!, "SIGKILL");
      await waitForExit(crashed.pid!, 5000);
      await crashed.stop();
      assert.ok(statSync(socketPath).isSocket());
      const second = await LocalEngine.start({ socketPath });
      assert.equal((await second.client.health()).serving, true);
      await second.stop();

      writeFileSync(join(dir, "not-a-socket"), "x");
      await assert.rejects(LocalEngine.start({ socketPath: join(dir, "not-a-socket") }), /not a socket/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
