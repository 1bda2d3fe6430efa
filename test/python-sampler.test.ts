// The README's Python example: `nucleus-image engine --port 0 --token T` in the foreground, and a minimal sampler in
// Python (grpcio stubs from proto/) calling LoadModel, EncodeText, ImportEmbedding, Denoise and Decode, compared
// with diffusers' pipeline on the tiny fixtures. The README must carry the sampler exactly as tested.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { decodePng } from "../orchestrator/src/image/png.js";
import { toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { cliPath } from "./helpers/cli.js";
import { maxAbsDifference, rms } from "./helpers/dit-fixtures.js";
import { enginePids, repoRoot, waitForExit } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, pipelineFixtures, tinyModel } from "./helpers/pipeline-fixtures.js";
import { textModelFolder } from "./helpers/processor.js";

const python = join(repoRoot, ".deps", "python", "bin", "python");
const sampler = join(repoRoot, "test", "python", "minimal_sampler.py");

/** A float32 .npy file (NumPy's format version 1) as a flat array. */
function readNpy(path: string): Float32Array {
  const bytes = readFileSync(path);
  assert.equal(bytes.toString("latin1", 1, 6), "NUMPY");
  const headerLength = bytes.readUInt16LE(8);
  assert.match(bytes.toString("latin1", 10, 10 + headerLength), /'descr': '<f4'/);
  const data = bytes.subarray(10 + headerLength);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

function assertClose(ours: Float32Array, theirs: Float32Array, what: string): void {
  assert.equal(ours.length, theirs.length, what);
  assert.ok(maxAbsDifference(ours, theirs) <= 1e-4 * rms(theirs), `${what}: max error ${maxAbsDifference(ours, theirs)}, RMS ${rms(theirs)}`);
}

describe("the README's Python sampler against `nucleus-image engine`", () => {
  const token = "readme-example-token";
  let runner: ChildProcessWithoutNullStreams;
  let runnerExit: Promise<number | null>;
  let address: string;
  let model: string;
  let output: string;
  let fixture: PipelineCase;
  before(async () => {
    model = textModelFolder(tinyModel);
    output = mkdtempSync(join(tmpdir(), "nucleus-sampler-"));
    fixture = pipelineCase();
    runner = spawn(process.execPath, [cliPath, "engine", "--port", "0", "--token", token]);
    runnerExit = new Promise((resolve) => runner.once("exit", resolve));
    const ready = await new Promise<string>((resolve) => createInterface({ input: runner.stdout }).once("line", resolve));
    address = (JSON.parse(ready) as { address: string }).address;
  });
  after(async () => {
    if (runner.exitCode === null) runner.kill("SIGKILL");
    rmSync(model, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    rmSync(fixture.directory, { recursive: true, force: true });
  });

  test("the README shows the sampler exactly as it is tested", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    assert.ok(readme.includes("```python\n" + readFileSync(sampler, "utf8").trimEnd() + "\n```"), "README.md's Python sampler differs from test/python/minimal_sampler.py");
  });

  test("a text prompt (EncodeText) gives diffusers' latents and image", async () => {
    const reference = readSafetensors(join(pipelineFixtures, "text-prompt.safetensors"));
    const meta = reference.metadata;
    const png = join(output, "text.png");
    const latents = join(output, "text.npy");
    await execa(python, [
      sampler, "--address", address, "--token", token, "--model", model, "--prompt", meta.prompt!, "--seed", meta.seed!,
      "--steps", meta.steps!, "--cfg", meta.guidance_scale!, "--width", meta.width!, "--height", meta.height!, "-o", png, "--output-latents", latents,
    ]);
    assertClose(readNpy(latents), toFloat32(reference.tensors.get("output_latents")!), "latents");
    const image = await decodePng(readFileSync(png));
    const expected = reference.tensors.get("image_uint8")!.data;
    let differing = 0;
    for (let i = 0; i < image.data.length; i++) {
      assert.ok(Math.abs(image.data[i]! - expected[i]!) <= 1, `pixel byte ${i}`);
      if (image.data[i] !== expected[i]) differing++;
    }
    assert.ok(differing <= image.data.length * 0.001, `${differing} bytes differ`);
  });

  test("prompt embeddings from diffusers (ImportEmbedding) and given latents give diffusers' latents", async () => {
    const latents = join(output, "embeds.npy");
    await execa(python, [
      sampler, "--address", address, "--token", token, "--model", tinyModel, "--prompt-embeds", fixture.promptFile,
      "--negative-embeds", fixture.negativeFile, "--latents", fixture.latentsFile, "--steps", "4", "--cfg", "3.5",
      "--width", String(fixture.width), "--height", String(fixture.height), "-o", join(output, "embeds.png"), "--output-latents", latents,
    ]);
    assertClose(readNpy(latents), toFloat32(fixture.expectedLatents), "latents");
  });

  test("the engine refuses a client without the token; Ctrl-C stops it: exit 130, no engine left", async () => {
    const refused = await execa(python, [sampler, "--address", address, "--model", tinyModel, "--prompt-embeds", fixture.promptFile, "-o", join(output, "x.png")], { reject: false });
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /UNAUTHENTICATED/);
    const pid = enginePids()[0]!;
    runner.kill("SIGINT");
    assert.equal(await runnerExit, 130);
    assert.ok(await waitForExit(pid, 5000));
    assert.deepEqual(enginePids(), []);
  });
});
