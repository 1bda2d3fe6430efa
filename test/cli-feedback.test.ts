// What the CLI says while and after it works: --json, --quiet, one plain line per step without a terminal, the
// end summary; prompts from files and standard input; --from-image; an engine that dies or stops answering.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { readImageMetadata } from "../orchestrator/src/image/encode.js";
import { decodePng, encodePng } from "../orchestrator/src/image/png.js";
import { longRun, runCli } from "./helpers/cli.js";
import { enginePids, processState, waitFor, waitForExit } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";
import { textModelFolder } from "./helpers/processor.js";

interface Parameters {
  prompt?: string;
  negative_prompt?: string;
  seed: number;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  model: string;
  quantization: string;
}

const parametersOf = async (path: string) => JSON.parse((await readImageMetadata(readFileSync(path)))["nucleus-image"]!) as Parameters;

describe("CLI feedback and scripting", () => {
  let fixture: PipelineCase;
  let model: string;
  let output: string;
  before(() => {
    fixture = pipelineCase();
    model = textModelFolder(tinyModel);
    output = mkdtempSync(join(tmpdir(), "nucleus-feedback-"));
  });
  after(() => {
    rmSync(fixture.directory, { recursive: true, force: true });
    rmSync(model, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  const small = ["--steps", "2", "--cfg", "2", "--width", "32", "--height", "32"];
  const embedded = () => ["--model", tinyModel, "--prompt-embeds", fixture.promptFile, "--steps", "2", "--cfg", "1", "--width", "32", "--height", "32"];

  test("without a terminal: a line per step and an end summary (load, per-step, decode, peak memory); --json; --quiet", async () => {
    const plain = await runCli(["generate", ...embedded(), "--seed", "7", "-o", join(output, "plain.png")]);
    assert.equal(plain.exitCode, 0, plain.stderr);
    assert.match(plain.stderr, /^step 1\/2 · [\d.]+ s\/step · elapsed [\d.]+s · ETA [\d.]+s$/m);
    assert.match(plain.stderr, /^step 2\/2 · /m);
    assert.doesNotMatch(plain.stderr, /\r|\x1b\[/);
    assert.match(plain.stdout, /^wrote .*plain\.png \(32×32, 2 steps, cfg 1, seed 7\)\n  load [\d.]+s · [\d.]+ s\/step \([\d.]+s for 2\) · decode [\d.]+s · total [\d.]+s\n  peak memory: engine process [\d.]+ MiB resident, MLX [\d.]+ [KM]iB$/);

    const json = await runCli(["generate", ...embedded(), "--json", "-o", join(output, "json.webp")]);
    assert.equal(json.exitCode, 0, json.stderr);
    const report = JSON.parse(json.stdout) as {
      paths: string[]; seeds: number[]; parameters: Parameters;
      timings: Record<string, number>; memory: { peak_rss_bytes: number; mlx_peak_bytes: number };
    };
    assert.deepEqual(report.paths, [join(output, "json.webp")]);
    assert.equal(report.seeds.length, 1);
    assert.equal(report.parameters.seed, report.seeds[0]);
    assert.equal(report.parameters.steps, 2);
    assert.equal(report.parameters.model, "tiny");
    for (const key of ["load_ms", "per_step_ms", "decode_ms", "total_ms"]) assert.ok(report.timings[key]! > 0, key);
    // The engine's resident high-water mark: more than the weights MLX holds, less than this machine.
    assert.ok(report.memory.peak_rss_bytes > report.memory.mlx_peak_bytes, JSON.stringify(report.memory));
    assert.ok(report.memory.mlx_peak_bytes > 0 && report.memory.peak_rss_bytes < 8 * 2 ** 30);
    assert.equal((await parametersOf(join(output, "json.webp"))).seed, report.seeds[0]);

    const quiet = await runCli(["generate", ...embedded(), "--quiet", "-o", join(output, "quiet.png")]);
    assert.equal(quiet.exitCode, 0);
    assert.equal(quiet.stdout + quiet.stderr, "");
    assert.ok(existsSync(join(output, "quiet.png")));
  });

  test("several images with one load: --count and --seed lists, named by {seed}/{index} templates", async () => {
    const batch = await runCli(["generate", ...embedded(), "--count", "2", "--seed", "7", "-o", join(output, "{index}-{seed}.png"), "--json"]);
    assert.equal(batch.exitCode, 0, batch.stderr);
    const report = JSON.parse(batch.stdout) as { paths: string[]; seeds: number[] };
    assert.deepEqual(report.paths, [join(output, "1-7.png"), join(output, "2-8.png")]);
    assert.deepEqual(report.seeds, [7, 8]);
    assert.equal((await parametersOf(join(output, "2-8.png"))).seed, 8);
    assert.notDeepEqual((await decodePng(readFileSync(report.paths[0]!))).data, (await decodePng(readFileSync(report.paths[1]!))).data);
    // Checked before anything runs: names for every image, no file written twice, matching counts.
    const refusals: [string[], RegExp][] = [
      [["--count", "2", "-o", join(output, "one.png")], /2 images need -o with \{seed\} or \{index\} in the name/],
      [["--seed", "3,3", "-o", join(output, "{seed}.png")], /3\.png would be written twice/],
      [["--seed", "1,2,3", "--count", "2"], /--count 2 does not match the 3 seeds given/],
      [["--seed", "1,x"], /--seed takes a seed or a comma-separated list of seeds/],
    ];
    for (const [args, message] of refusals) {
      const refused = await runCli(["generate", ...embedded(), ...args]);
      assert.equal(refused.exitCode, 2, refused.stderr);
      assert.match(refused.stderr, message);
    }
  });

  test("--prompt-file and - (standard input) give the prompt; --from-image reuses the parameters, flags override them", async () => {
    const promptFile = join(output, "prompt.txt");
    writeFileSync(promptFile, "Ein roter Apfel 🍎 on a table\n");
    const first = join(output, "first.png");
    const fromFile = await runCli(["generate", "--prompt-file", promptFile, "--model", model, ...small, "--seed", "21", "-o", first]);
    assert.equal(fromFile.exitCode, 0, fromFile.stderr);
    assert.equal((await parametersOf(first)).prompt, "Ein roter Apfel 🍎 on a table");

    const stdin = join(output, "stdin.png");
    const fromStdin = await runCli(["generate", "-", "--model", model, ...small, "--seed", "21", "--steps", "1", "-o", stdin], { input: "Eine Birne\n" });
    assert.equal(fromStdin.exitCode, 0, fromStdin.stderr);
    assert.equal((await parametersOf(stdin)).prompt, "Eine Birne");

    const both = await runCli(["generate", "x", "--prompt-file", promptFile, "--model", model, "-o", join(output, "never.png")]);
    assert.equal(both.exitCode, 2);

    // The same parameters again: the same image.
    const again = join(output, "again.png");
    const reused = await runCli(["generate", "--from-image", first, "--model", model, "-o", again]);
    assert.equal(reused.exitCode, 0, reused.stderr);
    assert.deepEqual(await parametersOf(again), await parametersOf(first));
    assert.deepEqual((await decodePng(readFileSync(again))).data, (await decodePng(readFileSync(first))).data);
    // A flag on the command line wins over the image's value.
    const changed = join(output, "changed.png");
    const overridden = await runCli(["generate", "--from-image", first, "--model", model, "--seed", "22", "--steps", "1", "-o", changed]);
    assert.equal(overridden.exitCode, 0, overridden.stderr);
    const parameters = await parametersOf(changed);
    assert.deepEqual([parameters.seed, parameters.steps, parameters.cfg, parameters.prompt], [22, 1, 2, "Ein roter Apfel 🍎 on a table"]);

    const bare = join(output, "bare.png");
    writeFileSync(bare, await encodePng({ width: 2, height: 2, data: Buffer.alloc(12) }));
    const refused = await runCli(["generate", "--from-image", bare, "--model", model, "-o", join(output, "never.png")]);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /bare\.png carries no nucleus-image parameters \(it was written with --no-metadata/);
  });

  test("an engine that dies mid-run: exit 1, out-of-memory advice and the engine's last stderr lines", async () => {
    const target = join(output, "died.png");
    const run = await longRun(["--model", tinyModel, "--prompt-embeds", fixture.promptFile, "--cfg", "1", "--width", "32", "--height", "32", "-o", target]);
    process.kill(run.engine, "SIGKILL");
    assert.equal(await run.exited, 1, run.stderr());
    const stderr = run.stderr();
    assert.match(stderr, /nucleus-image: error: the engine process was killed by SIGKILL during Denoise; it may have run out of memory: use less with --quantize 4 \(or 8\), --text-quantize 8, --low-memory or a smaller --width\/--height/);
    assert.match(stderr, /--- engine stderr \(last lines\) ---|\(the engine wrote nothing on stderr\)/);
    assert.doesNotMatch(stderr, /nucleus\.engine\.v1/);
    assert.equal(existsSync(target), false);
  });

  test("a stopped engine: the first Ctrl-C ends it after a short wait, exit 130, nothing written", async () => {
    const target = join(output, "stuck.png");
    const run = await longRun(["--model", tinyModel, "--prompt-embeds", fixture.promptFile, "--cfg", "1", "--width", "32", "--height", "32", "-o", target]);
    process.kill(run.engine, "SIGSTOP");
    try {
      await waitFor(() => processState(run.engine) === "T", `engine ${run.engine} to stop`);
      const interrupted = Date.now();
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr());
      assert.ok(Date.now() - interrupted < 10_000, `took ${Date.now() - interrupted} ms`);
      assert.match(run.stderr(), /the engine was not answering; it was stopped/);
      assert.ok(await waitForExit(run.engine, 5000), "the stopped engine is still there");
      assert.equal(existsSync(target), false);
    } finally {
      try {
        process.kill(run.engine, "SIGKILL"); // a stopped orphan would never see its standard input close
      } catch {
        // gone, as it should be
      }
    }
  });
});
