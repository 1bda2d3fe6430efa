// `nucleus-image serve` end to end: a real server process over a real engine, called over gRPC (our client and
// Python's grpcio), over HTTP (fetch and curl), and by `generate --server`; the same images as `generate`.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status as GrpcStatus } from "@grpc/grpc-js";
import { execa } from "execa";

import type { GenerateEvent, GenerateRequest } from "../orchestrator/src/generated/nucleus/image/v1/images.js";
import { readImageMetadata } from "../orchestrator/src/image/encode.js";
import { decodePng, readPngText, type RGBImage } from "../orchestrator/src/image/png.js";
import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { projectLatents } from "../orchestrator/src/preview/latent-preview.js";
import { packLatents, standardNormal } from "../orchestrator/src/sampling/noise.js";
import { fromProtoTensor, toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { ImageServerError, ImagesConnection } from "../orchestrator/src/serve/images-client.js";
import { runCli } from "./helpers/cli.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { tinyModel } from "./helpers/pipeline-fixtures.js";
import { textModelFolder } from "./helpers/processor.js";
import { startServe, type RunningServe } from "./helpers/serve.js";

const python = join(repoRoot, ".deps", "python", "bin", "python");

export async function collect(connection: ImagesConnection, request: Partial<GenerateRequest>, signal?: AbortSignal): Promise<GenerateEvent[]> {
  const events: GenerateEvent[] = [];
  for await (const event of connection.generate(request, signal)) events.push(event);
  return events;
}

export async function refusal(promise: Promise<unknown>): Promise<ImageServerError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ImageServerError, String(error));
    return error;
  }
  assert.fail("the call succeeded");
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A fenced code block of the README, found by the HTML comment just before it. */
function readmeBlock(marker: string): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const match = new RegExp(`<!-- ${marker} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(match, `README.md has no code block marked <!-- ${marker} -->`);
  return match[1]!;
}

const images = (events: GenerateEvent[]) => events.filter((event) => event.image).map((event) => event.image!);
const pixels = async (bytes: Buffer): Promise<RGBImage> => decodePng(bytes);

describe("serve: one loaded model over gRPC and HTTP", () => {
  let model: string;
  let output: string;
  let cache: string;
  let server: RunningServe;
  let connection: ImagesConnection;
  before(async () => {
    model = textModelFolder(tinyModel);
    output = mkdtempSync(join(tmpdir(), "nucleus-serve-"));
    cache = mkdtempSync(join(tmpdir(), "nucleus-serve-cache-"));
    // Low-memory mode: the text encoder and the transformer are swapped, which makes reused prompts visible.
    server = await startServe(["--model", model, "--low-memory", "--http-port", "0"], { NUCLEUS_CACHE_DIR: cache, NUCLEUS_TOKEN: "" });
    connection = new ImagesConnection(server.ready.grpc, "");
  });
  after(async () => {
    connection?.close();
    const socketFolder = dirname(server.ready.grpc.slice("unix:".length));
    assert.equal(await server.stop("SIGTERM"), 0, server.stderr());
    assert.ok(!existsSync(socketFolder), "the socket folder was left behind");
    assert.deepEqual(enginePids(), [], "engine processes left running");
    for (const folder of [model, output, cache]) rmSync(folder, { recursive: true, force: true });
  });

  test("the ready line names a Unix socket (0600 in a 0700 folder) and the HTTP address; GetInfo, /health and /v1/models", async () => {
    const { ready } = server;
    assert.equal(ready.event, "ready");
    assert.match(ready.grpc, /^unix:\//);
    const socket = ready.grpc.slice("unix:".length);
    assert.ok(statSync(socket).isSocket());
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700);
    assert.match(ready.http!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.protocol, "nucleus.image.v1");

    const info = await connection.getInfo();
    assert.equal(info.model, model.split("/").pop());
    // Low-memory mode starts with the text encoder alone; the transformer and the VAE come with the first job.
    assert.deepEqual(info.components.map((component) => [component.name, component.resident]), [["text_encoder", true]]);
    assert.ok(info.components.every((component) => component.quantization === "none" && component.parameterCount > 0));
    assert.equal(info.mlxVersion, "0.32.4");
    assert.equal(info.backend, "cpu");
    assert.equal(info.lowMemory, true);
    assert.equal(info.queueLength, 0);

    const health = await fetch(`${ready.http}/health`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as Record<string, unknown>;
    assert.equal(body.status, "ok");
    assert.equal(body.queue_length, 0);
    assert.equal(body.busy, false);
    const models = (await (await fetch(`${ready.http}/v1/models`)).json()) as { object: string; data: { id: string; object: string }[] };
    assert.equal(models.object, "list");
    assert.deepEqual(models.data.map((entry) => [entry.id, entry.object]), [[info.model, "model"]]);
  });

  test("the same seed, prompt and settings give pixel-identical images from generate, gRPC, HTTP and generate --server", async () => {
    const prompt = "A lighthouse on a cliff at dusk";
    const local = await runCli([
      "generate", prompt, "--model", model, "--negative", "blurry", "--width", "64", "--height", "32", "--steps", "3", "--cfg", "3.7",
      "--seed", "21", "--count", "2", "-o", join(output, "cli-{seed}.png"), "--preview", join(output, "preview.png"), "--quiet",
    ], { env: { ...process.env, NUCLEUS_CACHE_DIR: cache } as Record<string, string> });
    assert.equal(local.exitCode, 0, local.stderr);

    const overGrpc = images(await collect(connection, {
      prompt, negativePrompt: "blurry", width: 64, height: 32, steps: 3, guidance: 3.7, seed: 21, count: 2,
    }));
    assert.deepEqual(overGrpc.map((image) => [image.index, image.seed, image.format, image.width, image.height]), [[0, 21, "png", 64, 32], [1, 22, "png", 64, 32]]);

    const overHttp = await postJson(`${server.ready.http}/v1/images/generations`, {
      prompt, negative_prompt: "blurry", size: "64x32", steps: 3, guidance_scale: 3.7, seed: 21, n: 2, response_format: "b64_json",
    });
    assert.equal(overHttp.status, 200, JSON.stringify(overHttp.json));
    const data = overHttp.json.data as { b64_json: string; seed: number }[];
    assert.ok(Math.abs((overHttp.json.created as number) - Date.now() / 1000) < 600);
    assert.deepEqual(data.map((entry) => entry.seed), [21, 22]);

    const remote = await runCli([
      "generate", prompt, "--server", server.ready.grpc, "--negative", "blurry", "--width", "64", "--height", "32", "--steps", "3",
      "--cfg", "3.7", "--seed", "21", "--count", "2", "-o", join(output, "remote-{seed}.png"), "--preview", join(output, "preview.png"), "--json",
    ]);
    assert.equal(remote.exitCode, 0, remote.stderr);
    const report = JSON.parse(remote.stdout) as { paths: string[]; seeds: number[]; timings: { load_ms: number } };
    assert.deepEqual(report.seeds, [21, 22]);
    assert.match(remote.stderr, /step 3\/3 · /);

    for (const [index, seed] of [[0, 21], [1, 22]] as const) {
      const cliFile = readFileSync(join(output, `cli-${seed}.png`));
      const reference = await pixels(cliFile);
      assert.deepEqual((await pixels(overGrpc[index]!.data)).data, reference.data, `gRPC image ${seed}`);
      assert.deepEqual((await pixels(Buffer.from(data[index]!.b64_json, "base64"))).data, reference.data, `HTTP image ${seed}`);
      // generate --server writes the server's file: the same bytes as generate, metadata included.
      assert.ok(readFileSync(join(output, `remote-${seed}.png`)).equals(cliFile), `generate --server file ${seed}`);
      const stored = readPngText(cliFile)["nucleus-image"]!;
      assert.equal(overGrpc[index]!.metadataJson, stored);
      const parameters = JSON.parse(stored) as Record<string, unknown>;
      assert.deepEqual([parameters.prompt, parameters.negative_prompt, parameters.seed, parameters.cfg], [prompt, "blurry", seed, 3.7]);
    }
    assert.notDeepEqual((await pixels(overGrpc[0]!.data)).data, (await pixels(overGrpc[1]!.data)).data);

    // The preview file (written by both runs) is a small PNG marked as a preview: 1/8 of the image's size.
    const preview = readFileSync(join(output, "preview.png"));
    assert.equal(readPngText(preview).Software, "nucleus-image preview");
    assert.deepEqual([(await pixels(preview)).width, (await pixels(preview)).height], [8, 4]);
  });

  test("requests are checked before queuing with the shared limits, naming the field: INVALID_ARGUMENT over gRPC, 400 over HTTP", async () => {
    const before = (await connection.getInfo()).completedJobs;
    const bad: [Partial<GenerateRequest>, RegExp][] = [
      [{ prompt: "" }, /prompt is empty/],
      [{ prompt: "x", width: 65 }, /width must be a multiple of 16 from 16 to 4096, not 65/],
      [{ prompt: "x", steps: 0 }, /steps must be a whole number from 1 to 1000, not 0/],
      [{ prompt: "x", guidance: 200 }, /guidance must be a number from 0 to 100, not 200/],
      [{ prompt: "x", count: 65 }, /count must be a whole number from 1 to 64/],
      [{ prompt: "x", seed: 4294967295, count: 2 }, /go past 4294967295/],
      [{ prompt: "x", format: "gif" }, /format must be png, jpeg, webp, not "gif"/],
      [{ prompt: "x", quality: 50 }, /quality applies to jpeg and webp, not png/],
      [{ prompt: "x".repeat(40_000) }, /at most 32768 are accepted/],
    ];
    for (const [request, message] of bad) {
      const error = await refusal(collect(connection, request));
      assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT, `${JSON.stringify(request).slice(0, 60)}: ${error.message}`);
      assert.match(error.details, message);
    }
    const tooLarge = await refusal(collect(connection, { prompt: "x".repeat(2_000_000) }));
    assert.equal(tooLarge.code, GrpcStatus.RESOURCE_EXHAUSTED);

    const url = `${server.ready.http}/v1/images/generations`;
    const badHttp: [unknown, number, RegExp][] = [
      [{ prompt: "x", size: "big" }, 400, /size must be "WIDTHxHEIGHT"/],
      [{ prompt: "x", size: "100x64" }, 400, /size \(width\) must be a multiple of 16/],
      [{ prompt: "x", n: 0 }, 400, /n must be a whole number from 1 to 64, not 0/],
      [{ prompt: "x", guidance_scale: "high" }, 400, /guidance_scale must be a number from 0 to 100, not 'high'/],
      [{ prompt: "x", response_format: "url" }, 400, /"url" is not supported: use "b64_json"/],
      [{ prompt: "x", colour: "red" }, 400, /unknown field\(s\) colour/],
      [{ size: "64x64" }, 400, /prompt is missing/],
      ["{not json", 400, /JSON/i],
      [JSON.stringify({ prompt: "x".repeat(2_000_000) }), 413, /too large/i],
    ];
    for (const [body, status, message] of badHttp) {
      const answer = await postJson(url, body);
      assert.equal(answer.status, status, JSON.stringify(answer.json));
      const error = answer.json.error as { message: string; type: string };
      assert.match(error.message, message);
      assert.equal(error.type, "invalid_request_error");
    }
    assert.equal((await fetch(`${server.ready.http}/v2/nothing`)).status, 404);
    const info = await connection.getInfo();
    assert.deepEqual([info.completedJobs, info.queueLength, info.busy], [before, 0, false], "nothing was queued");
  });

  test("formats and options: WebP with metadata, no metadata, no system prompt", async () => {
    const [webp] = images(await collect(connection, { prompt: "A pear", width: 32, height: 32, steps: 1, seed: 3, format: "webp", quality: 80 }));
    assert.equal(webp!.format, "webp");
    assert.equal(webp!.data.toString("latin1", 8, 12), "WEBP");
    assert.equal(JSON.parse((await readImageMetadata(webp!.data))["nucleus-image"]!).seed, 3);
    const [plain] = images(await collect(connection, { prompt: "A pear", width: 32, height: 32, steps: 1, seed: 3, metadata: false, noSystemPrompt: true }));
    assert.deepEqual(readPngText(plain!.data), {});
    assert.equal((JSON.parse(plain!.metadataJson) as { system_prompt: unknown }).system_prompt, null);
  });

  test("prompts are encoded once and reused by later jobs: in low-memory mode a repeated prompt loads no weights", async () => {
    const job = async (prompt: string, seed: number) => {
      const events = await collect(connection, { prompt, width: 32, height: 32, steps: 1, seed });
      return events.find((event) => event.done)!.done!.timings!.loadSeconds;
    };
    // A new prompt needs the text encoder back (swapped for the transformer), then the transformer again.
    assert.ok((await job("A green pear on a plate", 1)) > 0);
    assert.equal(await job("A green pear on a plate", 2), 0, "the second job with the same prompt reloaded weights");
    const resident = Object.fromEntries((await connection.getInfo()).components.map((component) => [component.name, component.resident]));
    assert.deepEqual(resident, { transformer: true, vae: true, text_encoder: false });
    assert.ok((await job("A yellow banana", 3)) > 0);
  });

  test("previews: x0 = x_σ + σ·prediction through the projection fitted to the VAE; the last one is the final image's latents", async () => {
    const previousCache = process.env.NUCLEUS_CACHE_DIR;
    process.env.NUCLEUS_CACHE_DIR = cache;
    const nucleus = await NucleusImage.load(model);
    try {
      const request = { prompt: "A red apple on a white table", width: 64, height: 64, steps: 3, seed: 9 };
      const seen: { step: number; image: RGBImage }[] = [];
      const result = await nucleus.generate(request, { onPreview: (preview) => seen.push(preview) });
      assert.deepEqual(seen.map((preview) => preview.step), [1, 2, 3]);
      // At the last step σ_next = 0, so the predicted x0 is exactly what the Euler step makes the final latents.
      const projection = await nucleus.previewProjection();
      const final = projectLatents(result.latents, result.grid, projection);
      const last = seen.at(-1)!.image;
      assert.deepEqual([last.width, last.height], [8, 8]);
      const worst = Math.max(...last.data.map((value, i) => Math.abs(value - final.data[i]!)));
      assert.ok(worst <= 1, `the last preview differs from the final latents' projection by ${worst}`);

      // The server sends the same previews (every 2nd step and the last), as PNGs.
      const events = await collect(connection, { ...request, previewEvery: 2 });
      const progress = events.filter((event) => event.progress).map((event) => event.progress!);
      assert.deepEqual(progress.map((p) => [p.step, p.preview.length > 0]), [[1, false], [2, true], [3, true]]);
      assert.deepEqual((await pixels(progress[2]!.preview)).data, last.data);

      // The fit is cached per VAE in the cache folder, with how well it explains the decoded images it saw.
      const cached = readdirSync(join(cache, "previews"));
      assert.equal(cached.length, 1);
      const stored = JSON.parse(readFileSync(join(cache, "previews", cached[0]!), "utf8")) as { fit: { rSquared: number; samples: number } };
      assert.ok(stored.fit.rSquared > 0 && stored.fit.samples > 0);
      // And it predicts a decode it was not fitted to better than the mean colour does (positive R²).
      const folder = nucleus.imageModel!;
      const side = 16;
      const field = standardNormal(4242, folder.unpackedChannels * side * side).map((value, i) => 0.25 * value + Math.sin(i % (side * side) / 40));
      const decoded = await nucleus.client.unary("decode", {
        latents: { dtype: DType.DTYPE_FLOAT32, shape: [64, folder.latentChannels], data: Buffer.from(packLatents(field, folder.unpackedChannels, 8, 8).buffer) },
        gridHeight: 8, gridWidth: 8, floatOutput: true,
      });
      const image = toFloat32(fromProtoTensor(decoded.floatImage!));
      const heldOut = projectLatents(packLatents(field, folder.unpackedChannels, 8, 8), { height: 8, width: 8 }, { ...projection });
      let residual = 0;
      let total = 0;
      for (let o = 0; o < 3; o++) {
        const blocks = Array.from({ length: side * side }, (_, p) => {
          const [y, x] = [Math.floor(p / side), p % side];
          let sum = 0;
          for (let dy = 0; dy < 8; dy++) for (let dx = 0; dx < 8; dx++) sum += image[(o * 128 + y * 8 + dy) * 128 + x * 8 + dx]!;
          return ((sum / 64) / 2 + 0.5) * 255;
        });
        const mean = blocks.reduce((a, b) => a + b, 0) / blocks.length;
        blocks.forEach((value, p) => {
          residual += (value - heldOut.data[p * 3 + o]!) ** 2;
          total += (value - mean) ** 2;
        });
      }
      assert.ok(1 - residual / total > 0, `held-out R² ${1 - residual / total}`);
    } finally {
      await nucleus.close();
      if (previousCache === undefined) delete process.env.NUCLEUS_CACHE_DIR;
      else process.env.NUCLEUS_CACHE_DIR = previousCache;
    }

    // --preview never replaces a file that is not a preview without --force.
    const picture = join(output, "holiday.png");
    writeFileSync(picture, "not a preview");
    const refused = await runCli(["generate", "x", "--server", server.ready.grpc, "--preview", picture, "-o", join(output, "never.png")]);
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /holiday\.png already exists and is not a preview written by nucleus-image: choose another --preview path or pass --force/);
    assert.equal(readFileSync(picture, "utf8"), "not a preview");
    assert.ok(!existsSync(join(output, "never.png")));
  });

  test("the README's Python example (grpcio) and curl example run as printed", async (t) => {
    if (!existsSync(python)) return t.skip("the Python environment is missing: run npm run setup");
    const folder = mkdtempSync(join(output, "examples-"));
    writeFileSync(join(folder, "images_client.py"), readmeBlock("tested: serve-python-example"));
    const env = { ...process.env, NUCLEUS_SERVER: server.ready.grpc, NUCLEUS_PROTO: join(repoRoot, "proto"), NUCLEUS_HTTP: server.ready.http!, NUCLEUS_TOKEN: "" };
    const run = await execa(python, ["images_client.py"], { cwd: folder, env, reject: false });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, /^wrote apple-42\.png$/m);
    assert.match(run.stderr, /^step 4\/4$/m);
    const fromPython = readFileSync(join(folder, "apple-42.png"));
    assert.equal(JSON.parse(readPngText(fromPython)["nucleus-image"]!).seed, 42);

    const curl = await execa("bash", ["-euo", "pipefail", "-c", readmeBlock("tested: serve-curl-example")], { cwd: folder, env, reject: false });
    assert.equal(curl.exitCode, 0, curl.stderr);
    // The same request over HTTP: the same picture.
    assert.deepEqual((await pixels(readFileSync(join(folder, "apple.png")))).data, (await pixels(fromPython)).data);
  });
});

describe("serve: the queue, cancelling, tokens and stopping", () => {
  const token = "serve-test-token-0123456789";
  let model: string;
  let server: RunningServe;
  let connection: ImagesConnection;
  before(async () => {
    model = textModelFolder(tinyModel);
    server = await startServe(["--model", model, "--port", "0", "--http-port", "0", "--max-queue", "1"], { NUCLEUS_TOKEN: token });
    connection = new ImagesConnection(server.ready.grpc, token);
  });
  after(async () => {
    connection?.close();
    if (server.child.exitCode === null) await server.stop("SIGKILL");
    rmSync(model, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  /** Waits until GetInfo says `predicate`; returns how long it took. */
  const until = async (predicate: (info: Awaited<ReturnType<ImagesConnection["getInfo"]>>) => boolean, timeoutMs = 30_000) => {
    const started = performance.now();
    while (!predicate(await connection.getInfo())) {
      assert.ok(performance.now() - started < timeoutMs, "the server did not get there in time");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return performance.now() - started;
  };

  /** Starts a long job and resolves with its id once it runs; `done` settles with how it ended. */
  const longJob = async (client = connection, signal?: AbortSignal) => {
    const events: GenerateEvent[] = [];
    let running!: (id: string) => void;
    const started = new Promise<string>((resolve) => (running = resolve));
    const done = (async () => {
      for await (const event of client.generate({ prompt: "A slow picture", width: 32, height: 32, steps: 1000, cfg: 1 } as Partial<GenerateRequest>, signal)) {
        events.push(event);
        if (event.progress) running(event.jobId);
      }
    })().then(() => undefined, (error: unknown) => error as ImageServerError);
    return { id: await Promise.race([started, done.then((error) => assert.fail(`the job ended before it ran: ${String(error)}`))]), done, events };
  };

  test("a token is required on every call: UNAUTHENTICATED over gRPC, 401 over HTTP; a non-loopback host needs one", async () => {
    assert.match(server.ready.grpc, /^127\.0\.0\.1:\d+$/);
    for (const wrong of ["", "not-the-token"]) {
      const other = new ImagesConnection(server.ready.grpc, wrong);
      try {
        for (const call of [other.getInfo(), collect(other, { prompt: "x" }), other.cancel("some-job")]) {
          const error = await refusal(call);
          assert.equal(error.code, GrpcStatus.UNAUTHENTICATED);
          assert.match(error.details, wrong ? /wrong token/ : /missing token: send 'authorization: Bearer TOKEN'/);
        }
      } finally {
        other.close();
      }
      const headers: Record<string, string> = wrong ? { authorization: `Bearer ${wrong}` } : {};
      for (const path of ["/health", "/v1/models"]) assert.equal((await fetch(`${server.ready.http}${path}`, { headers })).status, 401);
      const refused = await postJson(`${server.ready.http}/v1/images/generations`, { prompt: "x" }, headers);
      assert.equal(refused.status, 401);
      assert.equal((refused.json.error as { type: string }).type, "authentication_error");
    }
    assert.equal((await fetch(`${server.ready.http}/health`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await connection.getInfo()).protocol, "nucleus.image.v1");

    const open = await runCli(["serve", "--model", model, "--host", "0.0.0.0", "--port", "0"], { env: { ...process.env, NUCLEUS_TOKEN: "" } as Record<string, string> });
    assert.equal(open.exitCode, 2);
    assert.match(open.stderr, /--host 0\.0\.0\.0 makes the server reachable from other machines: give a token with --token or NUCLEUS_TOKEN/);
    const both = await runCli(["serve", "--model", model, "--socket", "/tmp/x.sock", "--port", "0"]);
    assert.equal(both.exitCode, 2);
    assert.match(both.stderr, /give either --socket or --port, not both/);
  });

  test("FIFO: a second job waits (position 1), a third is refused (RESOURCE_EXHAUSTED, 429); Cancel of the waiting and the running job", async () => {
    const first = await longJob();
    const second = connection.generate({ prompt: "A second picture", width: 32, height: 32, steps: 1, seed: 1 });
    const firstEvent = await second.next();
    assert.deepEqual(firstEvent.value?.queued, { position: 1 });
    const secondId = firstEvent.value!.jobId;
    const secondDone = (async () => {
      for await (const event of second) assert.ok(!event.image, "the cancelled job made an image");
    })().then(() => undefined, (error: unknown) => error);

    const refused = await refusal(collect(connection, { prompt: "A third picture", width: 32, height: 32, steps: 1 }));
    assert.equal(refused.code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /the queue is full \(1 job\(s\) waiting\)/);
    const overHttp = await postJson(`${server.ready.http}/v1/images/generations`, { prompt: "x", size: "32x32" }, { authorization: `Bearer ${token}` });
    assert.equal(overHttp.status, 429);
    const info = await connection.getInfo();
    assert.deepEqual([info.queueLength, info.busy, info.maxQueue], [1, true, 1]);
    const health = (await (await fetch(`${server.ready.http}/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
    assert.deepEqual([health.queue_length, health.busy], [1, true]);

    assert.deepEqual(await connection.cancel(secondId), { cancelled: true, state: "queued" });
    const secondError = (await secondDone) as ImageServerError;
    assert.equal(secondError.code, GrpcStatus.CANCELLED);
    assert.deepEqual(await connection.cancel(first.id), { cancelled: true, state: "running" });
    const firstError = (await first.done) as ImageServerError;
    assert.equal(firstError.code, GrpcStatus.CANCELLED);
    assert.match(firstError.details, /was cancelled \(Cancel was called\)/);
    await until((status) => !status.busy && status.queueLength === 0);
    assert.ok(!first.events.some((event) => event.image));
    assert.deepEqual(await connection.cancel(first.id), { cancelled: false, state: "finished" });
    const unknown = await refusal(connection.cancel("no-such-job"));
    assert.equal(unknown.code, GrpcStatus.NOT_FOUND);
    assert.equal((await connection.getInfo()).completedJobs, 0);
  });

  test("a client that goes away cancels its job, over gRPC and over HTTP", async () => {
    const abort = new AbortController();
    const job = await longJob(connection, abort.signal);
    abort.abort();
    await job.done;
    await until((status) => !status.busy);
    assert.match(server.stderr(), new RegExp(`job ${job.id} cancelled: its client closed the call`));

    const httpAbort = new AbortController();
    const request = fetch(`${server.ready.http}/v1/images/generations`, {
      method: "POST", signal: httpAbort.signal,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ prompt: "A slow picture", size: "32x32", steps: 1000, guidance_scale: 1 }),
    }).catch(() => undefined);
    await until((status) => status.busy);
    httpAbort.abort();
    await request;
    await until((status) => !status.busy);
    assert.match(server.stderr(), /cancelled: its HTTP client disconnected/);
  });

  test("an engine that dies fails its job (INTERNAL) and is started again for the next one", async () => {
    const job = await longJob();
    const [engine] = enginePids();
    assert.ok(engine, "no engine process found");
    process.kill(engine, "SIGKILL");
    const error = (await job.done) as ImageServerError;
    assert.equal(error.code, GrpcStatus.INTERNAL, String(error));
    assert.match(error.details, /the engine process was killed by SIGKILL during Denoise.*the engine was restarted and the model loaded again: send the job again/s);
    const [image] = images(await collect(connection, { prompt: "A pear", width: 32, height: 32, steps: 1, seed: 4 }));
    assert.equal(image!.seed, 4);
    assert.notDeepEqual(enginePids(), [engine]);
  });

  test("SIGTERM: the running job ends with CANCELLED, the engine stops and the server exits 0", async () => {
    const job = await longJob();
    const exit = server.stop("SIGTERM");
    const error = (await job.done) as ImageServerError;
    assert.ok(error instanceof ImageServerError && [GrpcStatus.CANCELLED, GrpcStatus.UNAVAILABLE].includes(error.code), String(error));
    assert.equal(await exit, 0, server.stderr());
    assert.match(server.stderr(), /SIGTERM: stopping/);
  });
});
