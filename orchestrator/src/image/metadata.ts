// Generation parameters written into PNGs: an A1111-style "parameters" text (read by many tools) and a
// "nucleus-image" JSON entry with everything needed to reproduce the image.
export interface ImageMetadata {
  prompt?: string;
  negative_prompt?: string;
  /** Only when not the pipeline's default; null = no system message. */
  system_prompt?: string | null;
  seed?: number;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  model: string;
  quantization: string;
  text_encoder_quantization?: string;
  dtype: string;
  engine_version: string;
  mlx_version: string;
  scheduler: string;
  latents?: string;
  prompt_embeds?: string;
  negative_embeds?: string;
}

export function metadataText(metadata: ImageMetadata): Record<string, string> {
  const lines: string[] = [];
  lines.push(metadata.prompt ?? (metadata.prompt_embeds ? `(prompt embeddings: ${metadata.prompt_embeds})` : ""));
  if (metadata.negative_prompt !== undefined || metadata.negative_embeds) {
    lines.push(`Negative prompt: ${metadata.negative_prompt ?? `(embeddings: ${metadata.negative_embeds})`}`);
  }
  const seed = metadata.seed === undefined ? "" : `, Seed: ${metadata.seed}`;
  lines.push(
    `Steps: ${metadata.steps}, Sampler: ${metadata.scheduler}, CFG scale: ${metadata.cfg}${seed}, Size: ${metadata.width}x${metadata.height}, Model: ${metadata.model}, Quantization: ${metadata.quantization}`,
  );
  return { parameters: lines.join("\n"), "nucleus-image": JSON.stringify(metadata) };
}
