// Files we write, read back by Python's safetensors (NumPy) as other tools read them: prompt embeddings from
// `encode -o`, final latents from `--output-latents`, and a pre-quantized model from `convert`, whose quantized
// tensors must follow the layout the README describes (checked by dequantizing them in NumPy).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { runCli } from "./helpers/cli.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { wideModel } from "./helpers/wide-fixtures.js";

const python = join(repoRoot, ".deps", "python", "bin", "python");
const script = join(repoRoot, "test", "python", "check_safetensors.py");

interface Described {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; sum: number }>;
}

/** What Python's safetensors sees in `file`, next to what our reader sees. */
async function compareWithPython(file: string, dtypes: Record<string, string>): Promise<Described> {
  const result = await execa(python, [script, "describe", file], { reject: false });
  assert.equal(result.exitCode, 0, `Python could not read ${file}: ${result.stderr}`);
  const described = (JSON.parse(result.stdout) as Record<string, Described>)[file]!;
  const ours = readSafetensors(file);
  assert.deepEqual(Object.keys(described.tensors).sort(), [...ours.tensors.keys()].sort());
  assert.deepEqual(described.metadata, ours.metadata);
  for (const [key, tensor] of ours.tensors) {
    const theirs = described.tensors[key]!;
    assert.equal(theirs.dtype, dtypes[key], `${key} dtype`);
    assert.deepEqual(theirs.shape, tensor.shape, `${key} shape`);
    const sum = toFloat32(tensor).reduce((total, value) => total + value, 0);
    assert.ok(Math.abs(theirs.sum - sum) <= 1e-4 * Math.max(1, Math.abs(sum)), `${key}: sum ${theirs.sum} in Python, ${sum} here`);
  }
  return described;
}

describe("files we write, read by Python's safetensors", () => {
  let output: string;
  before(() => {
    output = mkdtempSync(join(tmpdir(), "nucleus-python-files-"));
  });
  after(() => {
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("encode -o: prompt_embeds float32 [1, L, D] and prompt_embeds_mask int64 [1, L], the metadata, data aligned to 8 bytes", async () => {
    const file = join(output, "embeds.safetensors");
    const prompt = "a small blue boat 🚤 on a lake, café au lait";
    const result = await runCli(["encode", prompt, "--model", wideModel, "--dtype", "float32", "-o", file]);
    assert.equal(result.exitCode, 0, result.stderr);
    const described = await compareWithPython(file, { prompt_embeds: "float32", prompt_embeds_mask: "int64" });
    assert.equal(described.tensors.prompt_embeds!.shape[0], 1);
    assert.equal(described.metadata.prompt, prompt);
    // The header is padded so that the tensors start 8-byte aligned (readers that map the file rely on it).
    assert.equal(Number(readFileSync(file).readBigUInt64LE(0)) % 8, 0, "the data section is not 8-byte aligned");
  });

  test("--output-latents: latents float32 [1, S, C]", async () => {
    const latents = join(output, "latents.safetensors");
    const result = await runCli(["generate", "a cat", "--model", wideModel, "--steps", "1", "--cfg", "1", "--width", "32", "--height", "48", "--seed", "3", "-o", join(output, "cat.png"), "--output-latents", latents]);
    assert.equal(result.exitCode, 0, result.stderr);
    const described = await compareWithPython(latents, { latents: "float32" });
    assert.deepEqual(described.tensors.latents!.shape, [1, 2 * 3, 16]);
  });

  test("convert: every shard loads; quantized tensors are MLX's affine layout and dequantize to their source weights", async () => {
    const target = join(output, "q");
    const result = await runCli(["convert", wideModel, target, "--quantize", "8", "--text-quantize", "4"]);
    assert.equal(result.exitCode, 0, result.stderr);
    const expected = {
      transformer: { record: { experts: { bits: 8, group_size: 64 }, format: "mlx-affine", linear: { bits: 8, group_size: 64 } }, experts: 4 },
      text_encoder: { record: { format: "mlx-affine", linear: { bits: 4, group_size: 64 } }, experts: 0 },
    };
    for (const [component, { record, experts }] of Object.entries(expected)) {
      const check = await execa(python, [script, "quantized", join(wideModel, component), join(target, component)], { reject: false });
      assert.equal(check.exitCode, 0, `${component}: ${check.stdout}${check.stderr}`);
      const summary = JSON.parse(check.stdout) as { record: unknown; checked: string[]; worst_step_ratio: number };
      assert.deepEqual(summary.record, record);
      // Every quantizable weight was quantized: 2 MoE blocks × (gate_up_proj, down_proj) expert stacks.
      assert.equal(summary.checked.filter((key) => key.includes(".experts.")).length, experts, summary.checked.join(", "));
      assert.ok(summary.checked.length > experts, `${component}: nothing but experts quantized`);
    }
    assert.deepEqual(readdirSync(target).sort(), ["model_index.json", "processor", "scheduler", "text_encoder", "transformer", "vae"]);
  });
});
