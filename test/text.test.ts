// Tokenization and chat-template rendering against Hugging Face tokenizers / transformers
// (tools/reference/make_text_fixtures.py), on Qwen3's real tokenizer.json.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import { loadChatTemplate } from "../orchestrator/src/text/chat-template.js";
import { DEFAULT_SYSTEM_PROMPT, MAX_PROMPT_TOKENS, loadPromptFormatter } from "../orchestrator/src/text/prompt.js";
import { loadTokenizer } from "../orchestrator/src/text/tokenizer.js";
import { processorFolder, textFixtures } from "./helpers/processor.js";

const processor = processorFolder();
after(() => rmSync(processor, { recursive: true, force: true }));

describe("tokenizer", () => {
  const tokenizer = loadTokenizer(processor);
  const cases = JSON.parse(readFileSync(join(textFixtures, "tokenizer-cases.json"), "utf8")) as { text: string; ids: number[] }[];

  test(`${cases.length} strings tokenize to the ids Hugging Face tokenizers gives`, () => {
    assert.ok(cases.length >= 200);
    const mismatches = cases.filter((entry) => JSON.stringify(tokenizer.encode(entry.text)) !== JSON.stringify(entry.ids));
    assert.deepEqual(mismatches.map((entry) => entry.text), []);
  });

  test("special tokens resolve to Qwen's ids", () => {
    assert.equal(tokenizer.tokenId("<|endoftext|>"), 151643);
    assert.equal(tokenizer.tokenId("<|im_start|>"), 151644);
    assert.equal(tokenizer.tokenId("<|im_end|>"), 151645);
  });

  test("a missing tokenizer is a clear error", () => {
    const empty = mkdtempSync(join(tmpdir(), "nucleus-empty-"));
    assert.throws(() => loadTokenizer(empty), /tokenizer\.json is missing: text prompts need the model's processor\/ folder/);
    rmSync(empty, { recursive: true });
  });
});

/** The same processor with tokenizer_config.json saying to pad and truncate on the left. */
function leftSidedProcessor(): string {
  const folder = mkdtempSync(join(tmpdir(), "nucleus-left-processor-"));
  for (const name of ["tokenizer.json", "chat_template.json"]) symlinkSync(join(processor, name), join(folder, name));
  const config = JSON.parse(readFileSync(join(processor, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(join(folder, "tokenizer_config.json"), JSON.stringify({ ...config, padding_side: "left", truncation_side: "left" }));
  return folder;
}

describe("chat template and prompt tokens", () => {
  const leftProcessor = leftSidedProcessor();
  after(() => rmSync(leftProcessor, { recursive: true, force: true }));
  const formatter = loadPromptFormatter(processor);
  const leftFormatter = loadPromptFormatter(leftProcessor);
  const cases = JSON.parse(readFileSync(join(textFixtures, "prompt-cases.json"), "utf8")) as {
    prompt: string;
    system: string | null;
    rendered: string;
    input_ids: number[];
    attention_mask: number[];
    padding_side?: "left";
  }[];

  for (const [index, entry] of cases.entries()) {
    const what = `${entry.system === null ? "no system message" : "system message"}${entry.padding_side ? ", padded and truncated on the left" : ""}`;
    test(`prompt case ${index} (${what}): rendering, ids and mask as transformers`, () => {
      const tokens = (entry.padding_side ? leftFormatter : formatter).tokenize(entry.prompt, { systemPrompt: entry.system });
      assert.equal(tokens.rendered, entry.rendered);
      assert.deepEqual(tokens.ids, entry.input_ids);
      assert.deepEqual(tokens.mask, entry.attention_mask);
      assert.equal(tokens.ids.length % 8, 0);
      assert.equal(tokens.truncatedTokens > 0, entry.input_ids.length === 1024 && entry.attention_mask.every(Boolean));
    });
  }

  test("the default system prompt and prompt length are the pipeline's (from diffusers), rendered as it renders them", () => {
    const defaults = JSON.parse(readFileSync(join(textFixtures, "pipeline-defaults.json"), "utf8")) as {
      system_prompt: string;
      max_sequence_length: number;
      rendered_empty_prompt: string;
    };
    assert.equal(DEFAULT_SYSTEM_PROMPT, defaults.system_prompt);
    assert.equal(MAX_PROMPT_TOKENS, defaults.max_sequence_length);
    // The formatter with no system prompt given uses the default: the text diffusers' _format_prompt("") makes.
    assert.equal(formatter.tokenize("").rendered, defaults.rendered_empty_prompt);
    const template = loadChatTemplate(processor, {});
    const text = template.render([
      { role: "system", content: defaults.system_prompt },
      { role: "user", content: [{ type: "text", text: "" }] },
    ], {});
    assert.equal(text, defaults.rendered_empty_prompt);
  });
});
