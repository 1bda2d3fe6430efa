// A text prompt onto the engine: tokenized with the model's chat template, a warning when it was cut at 1024
// tokens, then EncodeText. Shared by the sampling loop and NucleusImage.encode.
import type { EngineClient } from "../engine/client.js";
import type { EmbeddingHandle, Tensor } from "../generated/nucleus/engine/v1/engine.js";
import { type PromptFormatter, type TokenizedPrompt, truncationWarning } from "../text/prompt.js";

export interface EncodePromptOptions {
  /** undefined = the pipeline's default system prompt, null = none. */
  systemPrompt?: string | null;
  /** Python-style index into the hidden states; 0 or undefined = the loaded default. */
  hiddenLayer?: number;
  returnTensor?: boolean;
  onWarning?: (message: string) => void;
}

export async function encodePrompt(
  client: EngineClient, formatter: PromptFormatter, prompt: string, options: EncodePromptOptions = {},
): Promise<{ handle: EmbeddingHandle; tensor?: Tensor; tokens: TokenizedPrompt }> {
  const tokens = formatter.tokenize(prompt, { systemPrompt: options.systemPrompt });
  if (tokens.truncatedTokens > 0) options.onWarning?.(truncationWarning(tokens));
  const { handle, tensor } = await client.encodeText(tokens.ids, tokens.mask, { hiddenLayer: options.hiddenLayer, returnTensor: options.returnTensor });
  return { handle, tensor, tokens };
}
