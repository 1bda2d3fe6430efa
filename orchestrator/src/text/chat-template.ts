// The chat template that turns messages into the text the text encoder reads, rendered with @huggingface/jinja.
// Qwen3-VL processors keep it in processor/chat_template.json (or .jinja); tokenizer_config.json may carry one too.
// Every failure names the file the template came from and where else it was looked for.
import { existsSync } from "node:fs";
import { join } from "node:path";

import { Template } from "@huggingface/jinja";

import { readModelFile } from "../files/model-file.js";
import { TextSetupError } from "./tokenizer.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string | { type: "text"; text: string }[];
}

/** A loaded chat template (no @huggingface/jinja types here, so our declaration files do not need theirs). */
export interface ChatTemplate {
  /** The file the template came from. */
  source: string;
  render(messages: ChatMessage[], tokenizerConfig: Record<string, unknown>): string;
}

function templateFromJson(path: string): string | undefined {
  let parsed: unknown;
  let text: string;
  try {
    text = readModelFile(path).toString("utf8");
  } catch (error) {
    throw new TextSetupError(`${(error as Error).message}: restore the model's processor/chat_template.json`);
  }
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TextSetupError(`${path} is not valid JSON (${(error as Error).message}): restore the model's processor/chat_template.json`);
  }
  const source = (parsed as { chat_template?: unknown } | null)?.chat_template;
  if (typeof source !== "string" || source.trim() === "") {
    throw new TextSetupError(`${path} has no "chat_template" text: restore the model's processor/chat_template.json`);
  }
  return source;
}

export function loadChatTemplate(processorDir: string, tokenizerConfig: Record<string, unknown>): ChatTemplate {
  const jsonPath = join(processorDir, "chat_template.json");
  const jinjaPath = join(processorDir, "chat_template.jinja");
  const configPath = join(processorDir, "tokenizer_config.json");
  let source: string;
  let origin: string;
  let fallback = false;
  if (existsSync(jsonPath)) {
    source = templateFromJson(jsonPath)!;
    origin = jsonPath;
  } else if (existsSync(jinjaPath)) {
    try {
      source = readModelFile(jinjaPath).toString("utf8");
    } catch (error) {
      throw new TextSetupError((error as Error).message);
    }
    origin = jinjaPath;
  } else if (typeof tokenizerConfig.chat_template === "string") {
    source = tokenizerConfig.chat_template;
    origin = `${configPath} ("chat_template")`;
    fallback = true;
  } else {
    throw new TextSetupError(
      `no chat template found: looked for ${jsonPath}, ${jinjaPath} and a "chat_template" entry in ${configPath}; ` +
        "copy the model's processor/ folder (Qwen3-VL's chat_template.json) into place",
    );
  }
  let template: Template;
  try {
    template = new Template(source);
  } catch (error) {
    throw new TextSetupError(`the chat template in ${origin} does not parse (${(error as Error).message}): restore the model's processor/chat_template.json`);
  }
  return {
    source: origin,
    render(messages, config) {
      try {
        return renderChat(template, messages, config);
      } catch (error) {
        const why = (error as Error).message;
        throw new TextSetupError(
          `the chat template in ${origin} failed on the prompt (${why})` +
            (fallback
              ? `: ${jsonPath} and ${jinjaPath} are missing, and the tokenizer's own template is not Qwen3-VL's (it cannot read the prompt's text parts); copy the model's processor/chat_template.json`
              : ": restore the model's processor/chat_template.json"),
        );
      }
    },
  };
}

function renderChat(template: Template, messages: ChatMessage[], tokenizerConfig: Record<string, unknown>): string {
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
