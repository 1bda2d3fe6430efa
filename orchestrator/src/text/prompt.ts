// Text prompt -> token ids exactly as NucleusMoEImagePipeline prepares them: a system message and the user
// message (one text part) through the chat template with the generation prompt, tokenized without special-token
// insertion, truncated to 1024 tokens, padded with <|endoftext|> to a multiple of 8 (on the right unless the
// tokenizer_config.json says left), with a mask.
import { type ChatMessage, type ChatTemplate, loadChatTemplate } from "./chat-template.js";
import { loadTokenizer, type PromptTokenizer } from "./tokenizer.js";

/** The system prompt of diffusers' NucleusMoEImagePipeline. */
export const DEFAULT_SYSTEM_PROMPT =
  "You are an image generation assistant. Follow the user's prompt literally. Pay careful attention to spatial " +
  "layout: objects described as on the left must appear on the left, on the right on the right. Match exact object " +
  "counts and assign colors to the correct objects.";

export const MAX_PROMPT_TOKENS = 1024;
export const PAD_MULTIPLE = 8;

export interface TokenizedPrompt {
  ids: number[];
  /** 1 = real token, 0 = padding. */
  mask: number[];
  rendered: string;
  /** Tokens dropped by truncation (0 when the prompt fit). */
  truncatedTokens: number;
}

export interface PromptFormatter {
  tokenize(prompt: string, options?: { systemPrompt?: string | null }): TokenizedPrompt;
}

export function loadPromptFormatter(processorDir: string): PromptFormatter {
  const tokenizer = loadTokenizer(processorDir);
  const template = loadChatTemplate(processorDir, tokenizer.config);
  // Render once now, so that a template that cannot read our messages fails before any weights are loaded.
  template.render([{ role: "user", content: [{ type: "text", text: "" }] }], tokenizer.config);
  return {
    tokenize: (prompt, options = {}) => tokenizePrompt(tokenizer, template, prompt, options.systemPrompt),
  };
}

/** `systemPrompt`: undefined = the pipeline's default, null = no system message. */
export function tokenizePrompt(
  tokenizer: PromptTokenizer,
  template: ChatTemplate,
  prompt: string,
  systemPrompt: string | null | undefined,
): TokenizedPrompt {
  const system = systemPrompt === undefined ? DEFAULT_SYSTEM_PROMPT : systemPrompt;
  const messages: ChatMessage[] = [
    ...(system === null ? [] : [{ role: "system" as const, content: system }]),
    { role: "user", content: [{ type: "text", text: prompt }] },
  ];
  const rendered = template.render(messages, tokenizer.config);
  const all = tokenizer.encode(rendered);
  // Qwen's processor pads and truncates on the right; a tokenizer_config.json may say otherwise.
  const kept = tokenizer.config.truncation_side === "left" ? all.slice(Math.max(0, all.length - MAX_PROMPT_TOKENS)) : all.slice(0, MAX_PROMPT_TOKENS);
  const real = kept.length;
  const padding = Math.ceil(real / PAD_MULTIPLE) * PAD_MULTIPLE - real;
  const pad = tokenizer.tokenId(String(tokenizer.config.pad_token ?? "<|endoftext|>"));
  const pads = new Array<number>(padding).fill(pad);
  const left = tokenizer.config.padding_side === "left";
  return {
    ids: left ? [...pads, ...kept] : [...kept, ...pads],
    mask: left ? [...pads.map(() => 0), ...kept.map(() => 1)] : [...kept.map(() => 1), ...pads.map(() => 0)],
    rendered,
    truncatedTokens: all.length - real,
  };
}

export function truncationWarning(tokens: TokenizedPrompt): string {
  const total = tokens.mask.filter((flag) => flag === 1).length + tokens.truncatedTokens;
  return `the prompt is ${total} tokens long with its chat template; only ${MAX_PROMPT_TOKENS} are used (${tokens.truncatedTokens} dropped): shorten it`;
}
