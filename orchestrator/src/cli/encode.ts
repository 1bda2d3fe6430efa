import { resolve } from "node:path";

import type { Command } from "@commander-js/extra-typings";

import { checkOutputPath } from "../files/output.js";
import { resolveModel } from "../model/resolve-model.js";
import { NucleusImage } from "../nucleus-image.js";
import { readTextModelFolder } from "../pipeline/model-folder.js";
import { checkPrompt } from "../request/generate-request.js";
import { writeSafetensors, type TensorData } from "../tensors/safetensors.js";
import { UsageError } from "./errors.js";
import { loadOptions, loadProgressReporter, withModelOptions } from "./model-options.js";
import { hiddenLayer } from "./parsers.js";
import { promptFrom, systemPromptOf, withPromptOptions } from "./prompt-options.js";
import { Reporter } from "./reporter.js";

function declareEncode(program: Command) {
  const command = program
    .command("encode")
    .description("encode a text prompt into diffusers-compatible prompt embeddings (for --prompt-embeds or diffusers' prompt_embeds); needs only text_encoder/ and processor/")
    .argument("[prompt]", "text prompt (\"\" is the pipeline's negative prompt; '-' reads it from standard input)")
    .requiredOption("-o, --output <file>", "safetensors to write: prompt_embeds [1, L, D] and prompt_embeds_mask [1, L]")
    .option("--force", "overwrite an existing output file")
    .option("--hidden-layer <i>", "which hidden state, like Python's hidden_states[i] (default -8, the pipeline's)", hiddenLayer)
    .option("--json", "print one JSON object at the end (path, shape, tokens)")
    .option("-q, --quiet", "print nothing but errors");
  return withModelOptions(withPromptOptions(command));
}

type EncodeFlags = ReturnType<ReturnType<typeof declareEncode>["opts"]>;

export function registerEncode(program: Command): void {
  declareEncode(program).action(async (prompt, flags) => runEncode(prompt, flags));
}

/** The mask as diffusers returns it: int64, 1 = real token. */
function int64Mask(mask: number[]): TensorData {
  const data = Buffer.alloc(mask.length * 8);
  mask.forEach((value, index) => data.writeBigInt64LE(BigInt(value), index * 8));
  return { dtype: "I64", shape: [1, mask.length], data };
}

async function runEncode(argument: string | undefined, flags: EncodeFlags): Promise<void> {
  const reporter = new Reporter({ quiet: Boolean(flags.quiet) });
  const prompt = promptFrom(argument, flags);
  if (prompt === undefined) throw new UsageError('give a prompt, e.g. nucleus-image encode "A red apple" -o apple.safetensors (or --prompt-file FILE, - for standard input)');
  checkPrompt("prompt", prompt, { allowEmpty: true });
  const model = resolveModel(flags.model, { revision: flags.revision });
  for (const note of model.notes) reporter.note(note);
  const folder = readTextModelFolder(model);
  const output = resolve(flags.output);
  checkOutputPath(output, Boolean(flags.force));

  reporter.message(`loading ${folder.label}…`);
  const nucleus = await NucleusImage.load(model, {
    // Loading with the requested hidden layer means only the layers it needs are read from disk.
    load: { ...loadOptions(flags, ["text_encoder"]), textEncoderHiddenLayer: flags.hiddenLayer ?? 0 },
    onLoadProgress: loadProgressReporter(reporter),
  });
  try {
    const systemPrompt = systemPromptOf(flags);
    const encoded = await nucleus.encode(prompt, { systemPrompt, onWarning: (message) => reporter.warn(message) });
    reporter.done();
    const [length, width] = encoded.embedding.shape as [number, number];
    const metadata: Record<string, string> = {
      format: "pt",
      prompt,
      hidden_layer: String(flags.hiddenLayer ?? -8),
      model: folder.label,
      ...(systemPrompt === undefined ? {} : { system_prompt: systemPrompt ?? "(none)" }),
    };
    writeSafetensors(
      output,
      { prompt_embeds: { ...encoded.embedding, shape: [1, length, width] }, prompt_embeds_mask: int64Mask(encoded.tokens.mask) },
      metadata,
      { force: Boolean(flags.force) },
    );
    const real = encoded.tokens.mask.filter((flag) => flag === 1).length;
    if (flags.json) {
      console.log(JSON.stringify({ paths: [output], shape: [1, length, width], dtype: encoded.embedding.dtype, tokens: real, model: folder.label }));
    } else if (!flags.quiet) {
      console.log(`wrote ${output} (prompt_embeds [1, ${length}, ${width}] ${encoded.embedding.dtype}, ${real} real tokens)`);
    }
  } finally {
    reporter.done();
    await nucleus.close();
  }
}
