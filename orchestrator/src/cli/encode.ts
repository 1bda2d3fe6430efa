import { resolve } from "node:path";

import type { Command } from "commander";

import { checkWritable } from "../files/output.js";
import { NucleusImage } from "../nucleus-image.js";
import { readModelFolder, requireTextSupport } from "../pipeline/model-folder.js";
import { writeSafetensors, type TensorData } from "../tensors/safetensors.js";
import { addModelOptions, loadOptions, loadProgressReporter, modelDirectory, type ModelFlags } from "./model-flags.js";
import { hiddenLayer } from "./parsers.js";
import { ProgressBar } from "./progress.js";
import { addPromptOptions, systemPromptOf, warn, type PromptFlags } from "./prompt-flags.js";

interface EncodeFlags extends ModelFlags, PromptFlags {
  output: string;
  force?: boolean;
  hiddenLayer?: number;
}

export function registerEncode(program: Command): void {
  const command = program
    .command("encode")
    .description("encode a text prompt into diffusers-compatible prompt embeddings (for --prompt-embeds or diffusers' prompt_embeds)")
    .argument("<prompt>", "text prompt (\"\" is the pipeline's negative prompt)")
    .requiredOption("-o, --output <file>", "safetensors to write: prompt_embeds [1, L, D] and prompt_embeds_mask [1, L]")
    .option("--force", "overwrite an existing output file")
    .option("--hidden-layer <i>", "which hidden state, like Python's hidden_states[i] (default -8, the pipeline's)", hiddenLayer);
  addPromptOptions(command);
  addModelOptions(command, { transformer: false })
    .action(async (prompt: string, flags: EncodeFlags) => runEncode(prompt, flags));
}

/** The mask as diffusers returns it: int64, 1 = real token. */
function int64Mask(mask: number[]): TensorData {
  const data = Buffer.alloc(mask.length * 8);
  mask.forEach((value, index) => data.writeBigInt64LE(BigInt(value), index * 8));
  return { dtype: "I64", shape: [1, mask.length], data };
}

async function runEncode(prompt: string, flags: EncodeFlags): Promise<void> {
  const folder = readModelFolder(modelDirectory(flags));
  requireTextSupport(folder);
  const output = resolve(flags.output);
  checkWritable(output, Boolean(flags.force));

  const bar = new ProgressBar();
  bar.message(`loading ${folder.directory}…`);
  const model = await NucleusImage.load(folder.directory, {
    // Loading with the requested hidden layer means only the layers it needs are read from disk.
    load: { ...loadOptions(flags, ["text_encoder"]), textEncoderHiddenLayer: flags.hiddenLayer ?? 0 },
    onLoadProgress: loadProgressReporter(bar),
  });
  try {
    const systemPrompt = systemPromptOf(flags);
    const encoded = await model.encode(prompt, { systemPrompt, onWarning: (message) => { bar.done(); warn(message); } });
    bar.done();
    const [length, width] = encoded.embedding.shape as [number, number];
    const metadata: Record<string, string> = {
      format: "pt",
      prompt,
      hidden_layer: String(flags.hiddenLayer ?? -8),
      model: folder.directory,
      ...(systemPrompt === undefined ? {} : { system_prompt: systemPrompt ?? "(none)" }),
    };
    writeSafetensors(
      output,
      {
        prompt_embeds: { ...encoded.embedding, shape: [1, length, width] },
        prompt_embeds_mask: int64Mask(encoded.tokens.mask),
      },
      metadata,
      { force: Boolean(flags.force) },
    );
    const real = encoded.tokens.mask.filter((flag) => flag === 1).length;
    console.log(`wrote ${output} (prompt_embeds [1, ${length}, ${width}] ${encoded.embedding.dtype}, ${real} real tokens)`);
  } finally {
    bar.done();
    await model.close();
  }
}
