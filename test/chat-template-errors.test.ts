// A missing or broken chat template is reported when the processor is read (before any weights load), naming the
// file and where else it was looked for; the tokenizer's own Qwen3 template, which cannot read the pipeline's
// messages, no longer ends in "Cannot call something that is not a function".
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { loadChatTemplate } from "../orchestrator/src/text/chat-template.js";
import { loadPromptFormatter } from "../orchestrator/src/text/prompt.js";
import { runCli } from "./helpers/cli.js";
import { tinyModel } from "./helpers/pipeline-fixtures.js";
import { qwenTokenizerFiles } from "./helpers/processor.js";

test("chat template problems name the file and the places looked at, before the engine starts", async () => {
  const model = mkdtempSync(join(tmpdir(), "nucleus-template-"));
  const processor = join(model, "processor");
  try {
    for (const part of ["text_encoder", "transformer", "vae", "scheduler"]) symlinkSync(join(tinyModel, part), join(model, part));
    mkdirSync(processor);
    copyFileSync(join(qwenTokenizerFiles, "tokenizer.json"), join(processor, "tokenizer.json"));
    // Qwen3's tokenizer_config.json carries its own (text-only) chat template: the fallback a new user hits.
    copyFileSync(join(qwenTokenizerFiles, "tokenizer_config.json"), join(processor, "tokenizer_config.json"));
    assert.throws(() => loadPromptFormatter(processor), (error: Error) => {
      assert.ok(error.message.startsWith(`the chat template in ${join(processor, "tokenizer_config.json")} ("chat_template") failed on the prompt`), error.message);
      assert.ok(error.message.includes(`${join(processor, "chat_template.json")} and ${join(processor, "chat_template.jinja")} are missing`), error.message);
      assert.match(error.message, /copy the model's processor\/chat_template\.json/);
      assert.doesNotMatch(error.message, /^Cannot call/);
      return true;
    });
    // Through the CLI: our error style, before any weights were loaded.
    const result = await runCli(["encode", "A red apple", "--model", model, "-o", join(model, "x.safetensors")]);
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /^nucleus-image: error: the chat template in .*tokenizer_config\.json \("chat_template"\) failed on the prompt/m);
    assert.doesNotMatch(result.stderr, /loaded text_encoder/);

    assert.throws(() => loadChatTemplate(processor, {}), (error: Error) => {
      assert.ok(error.message.startsWith(
        `no chat template found: looked for ${join(processor, "chat_template.json")}, ${join(processor, "chat_template.jinja")} and a "chat_template" entry in ${join(processor, "tokenizer_config.json")}`,
      ), error.message);
      return true;
    });
    writeFileSync(join(processor, "chat_template.json"), '{"chat_templ');
    assert.throws(() => loadChatTemplate(processor, {}), new RegExp(`${join(processor, "chat_template.json")} is not valid JSON`));
    writeFileSync(join(processor, "chat_template.json"), '{"something": "else"}');
    assert.throws(() => loadChatTemplate(processor, {}), /chat_template\.json has no "chat_template" text/);
    writeFileSync(join(processor, "chat_template.json"), JSON.stringify({ chat_template: "{% for m in messages %}" }));
    assert.throws(() => loadChatTemplate(processor, {}), /the chat template in .*chat_template\.json does not parse/);
  } finally {
    rmSync(model, { recursive: true, force: true });
  }
});
