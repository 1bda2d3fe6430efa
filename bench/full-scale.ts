// Real scale on this machine: a full-size random checkpoint in the release layout (made once, cached), then
//   1. the bf16 load refused before any weight is read (the message shown),
//   2. convert to 4-bit (time, engine peak RSS, size), generate from it with and without --low-memory,
//   3. quantize-at-load from the bf16 folder (--quantize 4 --low-memory),
//   4. convert to 8-bit and generate from it with --low-memory (completes, or is refused before loading),
// each generate "A lighthouse on a cliff at dusk" at 256×256, 2 steps, CFG, text encoder 8-bit at load.
// Free disk is checked before every step that writes; the quantized copies are deleted after use, the bf16 folder
// kept for the next run (--clean removes it too).
//
//   node dist/bench/full-scale.js [--steps 2] [--size 256] [--clean] [--skip-8bit]
import { execFileSync } from "node:child_process";
import { existsSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";

import { execa } from "execa";

import { makeFullCheckpoint, plannedBytes } from "../tools/full-checkpoint/make-full-checkpoint.js";
import { benchModels, gib, numberArgument, root } from "./support.js";

const cli = join(root, "dist", "orchestrator", "src", "cli", "main.js");
const bf16 = join(benchModels, "full-scale-bf16");
const steps = numberArgument("--steps", 2);
const size = numberArgument("--size", 256);
const prompt = "A lighthouse on a cliff at dusk";
const rows: string[][] = [];
/** Records a row and prints it at once (a long run that is stopped still shows what it measured). */
function record(row: string[]): void {
  rows.push(row);
  console.log(row.join(" | "));
}

function freeBytes(): number {
  const stats = statfsSync(benchModels);
  return Number(stats.bavail) * Number(stats.bsize);
}

function requireFree(bytes: number, what: string): void {
  const free = freeBytes();
  if (free < bytes) throw new Error(`${what} needs ${gib(bytes)} of free disk; ${benchModels} has ${gib(free)}`);
}

/** Bytes a folder occupies on disk (holes do not count). */
function diskBytes(path: string): number {
  return Number(execFileSync("du", ["-sB1", path], { encoding: "utf8" }).split("\t")[0]);
}

async function generateRow(label: string, model: string, flags: string[]): Promise<void> {
  const output = join(benchModels, `full-scale-${process.pid}.png`);
  const started = performance.now();
  const run = await execa(process.execPath, [
    cli, "generate", prompt, "--model", model, "--width", String(size), "--height", String(size), "--steps", String(steps),
    "--seed", "1", "-o", output, "--force", "--json", ...flags,
  ], { reject: false });
  rmSync(output, { force: true });
  if (run.exitCode !== 0) {
    record([label, "refused/failed", `${((performance.now() - started) / 1000).toFixed(1)} s`, "", "", run.stderr.trim().split("\n").at(-1) ?? ""]);
    return;
  }
  const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as {
    timings: { load_ms: number; per_step_ms: number; decode_ms: number }; memory: { peak_rss_bytes: number; mlx_peak_bytes: number };
  };
  record([
    label, `load ${(summary.timings.load_ms / 1000).toFixed(1)} s`, `${(summary.timings.per_step_ms / 1000).toFixed(1)} s/step`,
    `decode ${(summary.timings.decode_ms / 1000).toFixed(1)} s`, `peak RSS ${gib(summary.memory.peak_rss_bytes)}`,
    `MLX peak ${gib(summary.memory.mlx_peak_bytes)}`,
  ]);
}

async function convertRow(bits: number, target: string): Promise<boolean> {
  rmSync(target, { recursive: true, force: true });
  requireFree((bits === 4 ? 10 : 19) * 2 ** 30, `converting to ${bits}-bit`);
  const run = await execa(process.execPath, [cli, "convert", bf16, target, "--quantize", String(bits), "--json"], { reject: false });
  if (run.exitCode !== 0) {
    record([`convert ${bits}-bit`, "failed", run.stderr.trim().split("\n").at(-1) ?? ""]);
    return false;
  }
  const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { seconds: number; peakRssBytes: number };
  record([
    `convert ${bits}-bit`, `${summary.seconds.toFixed(0)} s`, `peak RSS ${gib(summary.peakRssBytes)}`,
    `transformer ${gib(diskBytes(join(target, "transformer")))} on disk`,
  ]);
  return true;
}

async function main(): Promise<void> {
  console.log(`full-scale rows as they finish (${size}×${size}, ${steps} steps):`);
  if (!existsSync(bf16)) {
    requireFree(plannedBytes() + (4 << 30), "the full-size checkpoint");
    const started = performance.now();
    const made = makeFullCheckpoint({ out: bf16 });
    record(["make bf16 folder", `${((performance.now() - started) / 1000).toFixed(0)} s`, `${gib(made.writtenBytes)} written`]);
  }
  record(["bf16 folder", `${gib(diskBytes(bf16))} on disk`]);
  const textAtLoad = ["--text-quantize", "8"];

  await generateRow("bf16 (no quantization)", bf16, []);
  const q4 = join(benchModels, "full-scale-q4");
  if (await convertRow(4, q4)) {
    await generateRow("4-bit folder, --low-memory", q4, [...textAtLoad, "--low-memory"]);
    await generateRow("4-bit folder", q4, textAtLoad);
    rmSync(q4, { recursive: true, force: true });
  }
  await generateRow("bf16 folder, --quantize 4 at load, --low-memory", bf16, ["--quantize", "4", ...textAtLoad, "--low-memory"]);
  if (!process.argv.includes("--skip-8bit")) {
    const q8 = join(benchModels, "full-scale-q8");
    if (await convertRow(8, q8)) {
      await generateRow("8-bit folder, --low-memory", q8, [...textAtLoad, "--low-memory"]);
      rmSync(q8, { recursive: true, force: true });
    }
  }
  if (process.argv.includes("--clean")) rmSync(bf16, { recursive: true, force: true });

  console.log(`\nfull-scale pipeline: "${prompt}", ${size}×${size}, ${steps} steps, CFG 4, text encoder 8-bit at load, CPU backend`);
  for (const row of rows) console.log(row.join(" | "));
}

await main();
