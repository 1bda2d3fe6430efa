// The model's own byte-level BPE tokenizer (processor/tokenizer.json), through @huggingface/tokenizers.
import { existsSync } from "node:fs";
import { join } from "node:path";

import { Tokenizer } from "@huggingface/tokenizers";

import { readModelFile } from "../files/model-file.js";

export class TextSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TextSetupError";
  }
}

export interface PromptTokenizer {
  encode(text: string): number[];
  /** Id of a token written as text (e.g. "<|endoftext|>"). */
  tokenId(token: string): number;
  /** tokenizer_config.json, for the chat template's special tokens and padding. */
  config: Record<string, unknown>;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readModelFile(path).toString("utf8");
  } catch (error) {
    throw new TextSetupError((error as Error).message);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new TextSetupError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function loadTokenizer(processorDir: string): PromptTokenizer {
  const tokenizerPath = join(processorDir, "tokenizer.json");
  if (!existsSync(tokenizerPath)) {
    throw new TextSetupError(`${tokenizerPath} is missing: text prompts need the model's processor/ folder (tokenizer.json, tokenizer_config.json, chat template)`);
  }
  const configPath = join(processorDir, "tokenizer_config.json");
  const config = existsSync(configPath) ? readJson(configPath) : {};
  const definition = readJson(tokenizerPath);
  const tokenizer = new Tokenizer(definition, config);
  const added = new Map<string, number>(
    ((definition.added_tokens as { content: string; id: number }[] | undefined) ?? []).map((token) => [token.content, token.id]),
  );
  const vocabulary = (definition.model as { vocab?: Record<string, number> } | undefined)?.vocab ?? {};
  return {
    config,
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    tokenId: (token) => {
      const id = added.get(token) ?? vocabulary[token];
      if (id === undefined) throw new TextSetupError(`the tokenizer has no token ${token}`);
      return id;
    },
  };
}
