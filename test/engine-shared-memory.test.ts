// Tensors through shared-memory files (AttachSharedMemory, Tensor.shared, DenoiseRequest.predictions_to): the
// same predictions as through messages, bit for bit; files the engine must refuse; slices outside a file; a file
// cut short behind the engine's back; and the client's channel (used by LocalEngine, off on request, falling back
// to messages when the engine cannot attach).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, constants, existsSync, ftruncateSync, openSync, readdirSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";
import { execa } from "execa";

import { EngineClient } from "../orchestrator/src/engine/client.js";
import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { SHARED_MEMORY_FOLDER, SharedDenoiseChannel } from "../orchestrator/src/engine/shared-memory.js";
import { readFully } from "../orchestrator/src/files/descriptor-io.js";
import { DType, type DenoiseRequest, type Tensor } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { tinyA } from "./helpers/hostile.js";

const channels = 64;
const grid = { height: 16, width: 16 };  // 256 tokens: 64 KiB of latents, the size the client's channel starts at
const tokens = grid.height * grid.width;
const latentBytes = tokens * channels * 4;
const latents = Float32Array.from({ length: tokens * channels }, (_, i) => Math.sin(i * 0.37) * 1.5);
const latentsTensor = (): Tensor => ({ dtype: DType.DTYPE_FLOAT32, shape: [tokens, channels], data: Buffer.from(latents.buffer) });

/** A private file in /dev/shm of `size` bytes, named as the engine accepts unless told otherwise. */
function shmFile(size: number, name = `nucleus-test-${randomBytes(6).toString("hex")}`, mode = 0o600): { path: string; fd: number } {
  const path = join(SHARED_MEMORY_FOLDER, name);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, mode);
  chmodSync(path, mode);  // the umask does not apply to chmod
  ftruncateSync(fd, size);
  return { path, fd };
}

async function rejectsWith(call: Promise<unknown>, code: status, pattern: RegExp): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof EngineCallError, String(error));
    assert.equal(status[error.code], status[code], error.details);
    assert.match(error.details, pattern);
    return true;
  });
}

describe("shared-memory tensors", { skip: !existsSync(SHARED_MEMORY_FOLDER) && `no ${SHARED_MEMORY_FOLDER} here` }, () => {
  let engine: LocalEngine;
  let client: EngineClient;  // sends tensors in messages unless a request names shared memory itself
  let handles: number[];
  const made: string[] = [];
  const file = (size: number, name?: string, mode?: number) => {
    const created = shmFile(size, name, mode);
    made.push(created.path);
    return created;
  };

  before(async () => {
    engine = await LocalEngine.start();
    client = new EngineClient(engine.ready.address, undefined, { token: engine.authToken });
    await client.loadModel(tinyA, { dtype: DType.DTYPE_FLOAT32 });
    const embedding = (seed: number): Tensor => ({
      dtype: DType.DTYPE_FLOAT32, shape: [7, 24], data: Buffer.from(Float32Array.from({ length: 7 * 24 }, (_, i) => Math.cos(i * seed)).buffer),
    });
    handles = [(await client.importEmbedding(embedding(0.3))).id, (await client.importEmbedding(embedding(0.7))).id];
  });
  after(async () => {
    client.close();
    await engine.stop();
    for (const path of made) rmSync(path, { force: true });
  });

  const request = (overrides: Partial<DenoiseRequest> = {}): DenoiseRequest => ({
    latents: latentsTensor(), gridHeight: grid.height, gridWidth: grid.width, timestep: 0.6, conditioning: handles, ...overrides,
  });

  test("predictions through shared memory are the bytes that come in messages, and the response names their slices", async () => {
    const expected = await client.unary("denoise", request());
    const { path, fd } = file(4096 + 3 * latentBytes);
    const { buffer, sizeBytes } = await client.attachSharedMemory(path);
    assert.equal(sizeBytes, 4096 + 3 * latentBytes);
    rmSync(path);  // the engine holds the file open; its name is not needed any more
    writeSync(fd, Buffer.from(latents.buffer), 0, latentBytes, 4096);
    for (const shape of [[tokens, channels], [1, tokens, channels]]) {
      const shared = await client.unary("denoise", request({
        latents: { dtype: DType.DTYPE_FLOAT32, shape, data: Buffer.alloc(0), shared: { buffer, offset: 4096 } },
        predictionsTo: { buffer, offset: 4096 + latentBytes },
      }));
      assert.equal(shared.predictions.length, 2);
      for (const [index, prediction] of shared.predictions.entries()) {
        assert.equal(prediction.data.byteLength, 0, "no data in the message");
        assert.deepEqual(prediction.shape, shape);
        assert.deepEqual(prediction.shared, { buffer, offset: 4096 + (index + 1) * latentBytes });
        const bytes = Buffer.alloc(latentBytes);
        assert.equal(readFully(fd, bytes, prediction.shared!.offset), latentBytes);
        assert.ok(bytes.equals(expected.predictions[index]!.data), `prediction ${index} differs from the message's`);
      }
    }
    assert.equal(await client.detachSharedMemory(buffer), true);
    assert.equal(await client.detachSharedMemory(buffer), false);
    await rejectsWith(
      client.unary("denoise", request({ predictionsTo: { buffer, offset: 0 } })), status.NOT_FOUND, /shared-memory buffer \d+, which is not attached/);
    closeSync(fd);
  });

  test("files the engine refuses: elsewhere, misnamed, linked, readable by others, not regular, missing", async () => {
    const elsewhere = join("/tmp", `nucleus-test-${randomBytes(4).toString("hex")}`);
    closeSync(openSync(elsewhere, "w", 0o600));
    made.push(elsewhere);
    await rejectsWith(client.attachSharedMemory(elsewhere), status.INVALID_ARGUMENT, /directly in \/dev\/shm whose name starts with nucleus-/);
    await rejectsWith(client.attachSharedMemory(file(64, `other-${randomBytes(4).toString("hex")}`).path), status.INVALID_ARGUMENT, /name starts with nucleus-/);
    await rejectsWith(client.attachSharedMemory(`${SHARED_MEMORY_FOLDER}/nucleus-x/../nucleus-y`), status.INVALID_ARGUMENT, /directly in \/dev\/shm/);
    const link = join(SHARED_MEMORY_FOLDER, `nucleus-link-${randomBytes(4).toString("hex")}`);
    symlinkSync(file(64).path, link);
    made.push(link);
    await rejectsWith(client.attachSharedMemory(link), status.INVALID_ARGUMENT, /must be a regular file, not a link/);
    await rejectsWith(client.attachSharedMemory(file(64, undefined, 0o644).path), status.INVALID_ARGUMENT, /private to it \(mode 0600\)/);
    const fifo = join(SHARED_MEMORY_FOLDER, `nucleus-fifo-${randomBytes(4).toString("hex")}`);
    await execa("mkfifo", ["-m", "600", fifo]);
    made.push(fifo);
    await rejectsWith(client.attachSharedMemory(fifo), status.INVALID_ARGUMENT, /is not a regular file/);
    await rejectsWith(client.attachSharedMemory(join(SHARED_MEMORY_FOLDER, "nucleus-missing-file")), status.NOT_FOUND, /no shared-memory file/);
    assert.equal((await client.health()).serving, true);
  });

  test("slices outside the file, both data and a slice, a file cut short: INVALID_ARGUMENT before or without harm", async () => {
    const { path, fd } = file(latentBytes);
    const { buffer } = await client.attachSharedMemory(path);
    const sharedLatents = (offset: number): Tensor => ({ dtype: DType.DTYPE_FLOAT32, shape: [tokens, channels], data: Buffer.alloc(0), shared: { buffer, offset } });
    await rejectsWith(client.unary("denoise", request({ latents: sharedLatents(8) })), status.INVALID_ARGUMENT, /needs 65536 bytes from byte 8 of shared-memory buffer \d+, which holds 65536/);
    await rejectsWith(client.unary("denoise", request({ latents: sharedLatents(2 ** 53 - 1) })), status.INVALID_ARGUMENT, /which holds 65536/);
    await rejectsWith(client.unary("denoise", request({ latents: { ...latentsTensor(), shared: { buffer, offset: 0 } } })), status.INVALID_ARGUMENT, /both data and a shared slice/);
    await rejectsWith(client.unary("denoise", request({ latents: sharedLatents(0), predictionsTo: { buffer, offset: 0 } })), status.INVALID_ARGUMENT, /predictions_to needs 131072 bytes/);
    await rejectsWith(client.unary("denoise", request({ latents: { ...sharedLatents(0), shared: { buffer: buffer + 1000, offset: 0 } } })), status.NOT_FOUND, /not attached: call AttachSharedMemory first/);
    ftruncateSync(fd, 100);  // behind the engine's back: a short read, not a crash
    await rejectsWith(client.unary("denoise", request({ latents: sharedLatents(0) })), status.INVALID_ARGUMENT, /ends before byte 65536 \(was the file cut short\?\)/);
    assert.equal((await client.health()).serving, true);
    await client.detachSharedMemory(buffer);
    closeSync(fd);
  });

  test("at most 64 files are attached at once: RESOURCE_EXHAUSTED, then room again after a detach", async () => {
    const buffers: number[] = [];
    try {
      for (let i = 0; i < 64; i++) buffers.push((await client.attachSharedMemory(file(64).path)).buffer);
      await rejectsWith(client.attachSharedMemory(file(64).path), status.RESOURCE_EXHAUSTED, /64 shared-memory files are attached already/);
      await client.detachSharedMemory(buffers.pop()!);
      buffers.push((await client.attachSharedMemory(file(64).path)).buffer);
    } finally {
      for (const buffer of buffers) await client.detachSharedMemory(buffer);
    }
  });

  test("LocalEngine's client moves Denoise tensors through a file it removes at once, with the same predictions", async () => {
    const own = new RegExp(`^nucleus-${process.pid}-`);
    const channelClient = engine.client;
    assert.ok(channelClient.sharedDenoise, "LocalEngine's client has a shared-memory channel");
    const into = handles.map(() => new Uint8Array(latentBytes));
    const viaChannel = await channelClient.denoise(latentsTensor(), grid, 0.6, handles, { predictionsInto: into });
    assert.equal(channelClient.sharedDenoise.offReason, undefined);
    const viaMessages = await client.unary("denoise", request());
    for (const [index, prediction] of viaChannel.predictions.entries()) {
      assert.equal(prediction.shared, undefined);
      assert.equal(prediction.data.buffer, into[index]!.buffer, "read into the memory the caller gave");
      assert.ok(Buffer.from(prediction.data).equals(viaMessages.predictions[index]!.data));
    }
    assert.deepEqual(readdirSync(SHARED_MEMORY_FOLDER).filter((name) => own.test(name)), [], "no file name left behind");
  });

  test("the channel turns itself off when the engine cannot attach, and the call goes through messages", async () => {
    const refusing = new SharedDenoiseChannel({
      attachSharedMemory: () => Promise.reject(new Error("engine on another machine")),
      detachSharedMemory: () => Promise.resolve(true),
    });
    let sent: DenoiseRequest | undefined;
    const answer = await refusing.denoise(request(), async (message) => ((sent = message), { predictions: [], computeSeconds: 0 }));
    assert.equal(answer, null, "null: the caller sends the bytes itself");
    assert.equal(sent, undefined);
    assert.match(refusing.offReason ?? "", /shared memory is not available: engine on another machine/);
  });

  test("NUCLEUS_SHARED_MEMORY=off: no channel", () => {
    const previous = process.env.NUCLEUS_SHARED_MEMORY;
    process.env.NUCLEUS_SHARED_MEMORY = "off";
    try {
      const offClient = new EngineClient(engine.ready.address, undefined, { sharedMemory: true });
      assert.equal(offClient.sharedDenoise, undefined);
      offClient.close();
    } finally {
      if (previous === undefined) delete process.env.NUCLEUS_SHARED_MEMORY;
      else process.env.NUCLEUS_SHARED_MEMORY = previous;
    }
  });
});
