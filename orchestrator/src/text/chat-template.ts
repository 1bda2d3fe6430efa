// The chat template that turns messages into the text the text encoder reads, rendered with @huggingface/jinja.
// Qwen3-VL processors keep it in processor/chat_template.json (or .jinja); tokenizer_config.json may carry one too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { Template } from "@huggingface/jinja";

import { TextSetupError } from "./tokenizer.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string | { type: "text"; text: string }[];
}

export function loadChatTemplate(processorDir: string, tokenizerConfig: Record<string, unknown>): Template {
  const jsonPath = join(processorDir, "chat_template.json");
  const jinjaPath = join(processorDir, "chat_template.jinja");
  let source: string | undefined;
  if (existsSync(jsonPath)) {
    source = (JSON.parse(readFileSync(jsonPath, "utf8")) as { chat_template?: string }).chat_template;
  } else if (existsSync(jinjaPath)) {
    source = readFileSync(jinjaPath, "utf8");
  } else if (typeof tokenizerConfig.chat_template === "string") {
    source = tokenizerConfig.chat_template;
  }
  if (!source) {
    throw new TextSetupError(`no chat template in ${processorDir} (chat_template.json, chat_template.jinja or tokenizer_config.json)`);
  }
  try {
    return new Template(source);
  } catch (error) {
    throw new TextSetupError(`the chat template in ${processorDir} does not parse: ${(error as Error).message}`);
  }
}

export function renderChat(template: Template, messages: ChatMessage[], tokenizerConfig: Record<string, unknown>): string {
  const special = (name: string) => {
    const value = tokenizerConfig[name];
    return typeof value === "string" ? value : (value as { content?: string } | undefined)?.content ?? "";
  };
  return template.render({
    messages,
    add_generation_prompt: true,
    bos_token: special("bos_token"),
    eos_token: special("eos_token"),
    pad_token: special("pad_token"),
  });
}
