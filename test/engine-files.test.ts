// What the engine reads (issue 11, defects 6 and 8): only regular files, never blocking on a FIFO (and SIGTERM still
// ends it promptly); shards named by an index stay inside their component folder; symbolic links are followed (the
// Hugging Face cache is made of them); a NUL in a path is refused; errors never quote a file's bytes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { EngineCallError } from "../orchestrator/src/engine/errors.js";
import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { fromProtoTensor, toFloat32, toProtoTensor } from "../orchestrator/src/tensors/convert.js";
import { loadDiTCase, maxAbsDifference, rms, row } from "./helpers/dit-fixtures.js";
import { waitForExit } from "./helpers/engine.js";
import { copyModel, pipelineModel, send, tinyA, Wire } from "./helpers/hostile.js";

const SECRET = "PRIVATE-7d41e0-root:$6$saltsalt$";

const expectCode = (code: status, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof EngineCallError, String(error));
  assert.equal(status[error.code], status[code], error.details);
  assert.match(error.details, pattern);
  assert.ok(!error.details.includes("7d41e0") && !error.details.includes("saltsalt") && !error.details.includes("PRIVATE"), `file bytes echoed: ${error.details}`);
  return true;
};

/** The index file of a component folder and its parsed weight map. */
function index(folder: string): { path: string; json: { weight_map: Record<string, string> } } {
  const name = readdirSync(folder).find((entry) => entry.endsWith(".safetensors.index.json"))!;
  return { path: join(folder, name), json: JSON.parse(readFileSync(join(folder, name), "utf8")) as { weight_map: Record<string, string> } };
}

describe("files the engine reads", () => {
  let engine: LocalEngine;
  let scratch: string;
  let secret: string;
  before(async () => {
    engine = await LocalEngine.start();
    scratch = copyModel(tinyA).scratch;
    secret = join(scratch, "private.txt");
    writeFileSync(secret, `${SECRET}\n`.repeat(20), { mode: 0o600 });
  });
  after(async () => {
    await engine.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A fresh copy of tiny-a inside the scratch folder. */
  let copies = 0;
  const variant = () => {
    const model = join(scratch, `variant-${copies++}`);
    execFileSync("cp", ["-r", tinyA, model]);
    return { model, transformer: join(model, "transformer") };
  };

  test("a FIFO as config.json or as a shard is refused at once, naming it (defect 6)", { timeout: 30_000 }, async () => {
    for (const which of ["config", "shard"] as const) {
      const { model, transformer } = variant();
      const file = which === "config" ? "config.json" : readdirSync(transformer).find((name) => name.endsWith("00002-of-00008.safetensors"))!;
      rmSync(join(transformer, file));
      execFileSync("mkfifo", [join(transformer, file)]);
      const started = Date.now();
      await assert.rejects(engine.client.loadModel(model, {}, undefined, { timeoutMs: 10_000 }), expectCode(status.INVALID_ARGUMENT, new RegExp(`${file.replace(/\./g, "\\.")} is not a regular file`)));
      await assert.rejects(engine.client.inspectModel(model, {}, {}, { timeoutMs: 10_000 }), expectCode(status.INVALID_ARGUMENT, /is not a regular file/));
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    }
    assert.equal((await engine.client.health()).serving, true);
  });

  test("SIGTERM during LoadModel of a folder with a FIFO: the engine exits promptly (defect 6)", { timeout: 30_000 }, async () => {
    const own = await LocalEngine.start({ shutdownGraceMs: 10_000 });
    const pid = own.pid!;
    try {
      const { model, transformer } = variant();
      rmSync(join(transformer, "config.json"));
      execFileSync("mkfifo", [join(transformer, "config.json")]);
      let settled = 0;
      const calls = Array.from({ length: 4 }, () =>
        own.client.loadModel(model, {}, undefined, { timeoutMs: 20_000 }).catch((error: Error) => error).finally(() => settled++),
      );
      // Until the calls are answered, or are all in the engine (an engine that blocked on the FIFO holds them).
      for (let polls = 0; settled < calls.length && polls < 100; polls++) {
        if ((await own.client.health()).inFlightCalls >= calls.length + 1) break;
      }
      const started = Date.now();
      process.kill(pid, "SIGTERM");
      assert.ok(await waitForExit(pid, 5000), "the engine did not exit within 5 s of SIGTERM");
      assert.ok(Date.now() - started < 5000);
      await Promise.all(calls);
    } finally {
      await own.stop();
    }
  });

  test("a shard named ../../../../etc/shadow or /etc/passwd in an index is refused, without reading it (defect 8)", async () => {
    for (const name of ["../../../../etc/shadow", "/etc/passwd", "../private.txt", "..", "sub/../x.safetensors"]) {
      const { model, transformer } = variant();
      const { path, json } = index(transformer);
      json.weight_map["img_in.bias"] = name;
      writeFileSync(path, JSON.stringify(json));
      await assert.rejects(engine.client.loadModel(model), expectCode(status.INVALID_ARGUMENT, /is not a file name inside the folder/));
    }
  });

  test("symbolic links are followed: a Hugging Face cache snapshot (links into blobs/) loads and computes the same (defect 8)", async () => {
    // hub/models--x--y/snapshots/<rev>/transformer/<file> -> ../../../blobs/<name>, as huggingface_hub lays it out.
    const repo = join(scratch, "hub", "models--nucleus--tiny");
    const snapshot = join(repo, "snapshots", "0123abcd", "transformer");
    mkdirSync(join(repo, "blobs"), { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    for (const name of readdirSync(join(tinyA, "transformer"))) {
      const blob = join(repo, "blobs", `blob-${name.length}-${name.replace(/[^a-z0-9]/g, "")}`);
      execFileSync("cp", [join(tinyA, "transformer", name), blob]);
      symlinkSync(join("..", "..", "..", "blobs", blob.split("/").pop()!), join(snapshot, name));
    }
    const fixture = loadDiTCase("a-fp32");
    await engine.client.loadModel(join(repo, "snapshots", "0123abcd"));
    const handle = (await engine.client.importEmbedding(toProtoTensor(row(fixture.text, 0)))).id;
    const output = toFloat32(fromProtoTensor((await engine.client.denoise(toProtoTensor(row(fixture.latents, 0)), fixture.grid, fixture.timesteps[0]!, [handle])).predictions[0]!));
    const expected = toFloat32(row(fixture.expected, 0));
    assert.ok(maxAbsDifference(output, expected) <= 1e-4 * rms(expected));
  });

  test("a shard or config linked to a private file: the error names the file but never quotes it (defect 8)", async () => {
    const shard = variant();
    const name = readdirSync(shard.transformer).find((entry) => entry.endsWith("00004-of-00008.safetensors"))!;
    rmSync(join(shard.transformer, name));
    symlinkSync(secret, join(shard.transformer, name));
    await assert.rejects(engine.client.loadModel(shard.model), expectCode(status.INVALID_ARGUMENT, new RegExp(`${name} is not a valid safetensors file`)));

    const config = variant();
    rmSync(join(config.transformer, "config.json"));
    symlinkSync(secret, join(config.transformer, "config.json"));
    await assert.rejects(engine.client.loadModel(config.model), expectCode(status.INVALID_ARGUMENT, /config\.json does not describe a TransformerConfig: it is not valid JSON/));

  });

  test("a NUL inside model_dir, source_dir or target_dir is refused instead of cutting the path (defect 8)", async () => {
    const path = `${pipelineModel}\0/etc`;
    for (const [method, message] of [
      ["LoadModel", new Wire().bytes(1, path)],
      ["InspectModel", new Wire().bytes(1, path)],
      ["ConvertModel", new Wire().bytes(1, path).bytes(2, join(scratch, "out")).bytes(3, new Wire().varint(1, 8))],
      ["ConvertModel", new Wire().bytes(1, pipelineModel).bytes(2, `${join(scratch, "out")}\0x`).bytes(3, new Wire().varint(1, 8))],
    ] as const) {
      const result = await send(engine, method, message);
      assert.equal(status[result.code], "INVALID_ARGUMENT", `${method}: ${result.details}`);
      assert.match(result.details, /contains a NUL byte: give a plain folder path/);
    }
    assert.deepEqual(readdirSync(scratch).filter((name) => name.startsWith("out") || name.startsWith(".out")), []);
  });

  test("a folder renamed away mid-session is a clear NOT_FOUND", async () => {
    const { model } = variant();
    renameSync(model, `${model}-gone`);
    await assert.rejects(engine.client.loadModel(model), expectCode(status.NOT_FOUND, /does not exist/));
  });
});
