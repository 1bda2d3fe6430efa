// The flags every command that loads a model shares: which model (a folder or a Hugging Face id), the compute
// dtype and quantization. Their types come from the declarations (commander's extra typings).
import { type Command, Option, type OptionValues } from "@commander-js/extra-typings";

import { DType, type LoadOptions, type LoadProgress } from "../generated/nucleus/engine/v1/engine.js";
import { quantizationBits } from "./parsers.js";
import type { Reporter } from "./reporter.js";

export function withModelOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option("--model <model>", "model folder in the release layout, or a Hugging Face id such as NucleusAI/Nucleus-Image (default $NUCLEUS_MODEL)")
    .option("--revision <revision>", "with a Hugging Face id: the branch, tag or commit in the cache (default main)")
    .addOption(new Option("--dtype <dtype>", "compute dtype in the engine (default: the checkpoint's on GPUs, float32 on the CPU backend)").choices(["float32", "bfloat16"] as const))
    .option("--text-quantize <bits>", "quantize the text encoder's linears at load (8 or 4)", quantizationBits("--text-quantize"));
}

export function withTransformerOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option("--quantize <bits>", "quantize the transformer's linears and experts at load (8 or 4)", quantizationBits("--quantize"))
    .option("--low-memory", "drop the text encoder from memory once its prompts are encoded");
}

/** The flags these declarations produce (derived, so a declaration and its type cannot drift apart). */
type Declared<F extends (command: Command) => Command<unknown[], OptionValues, OptionValues>> = ReturnType<ReturnType<F>["opts"]>;
export type ModelFlags = Declared<typeof withModelOptions<[], {}, {}>> & Partial<Declared<typeof withTransformerOptions<[], {}, {}>>>;

export function loadOptions(flags: ModelFlags, components: string[]): Partial<LoadOptions> {
  const quantization = (bits: number | undefined) => (bits ? { bits, groupSize: 64 } : undefined);
  return {
    components,
    dtype: flags.dtype === "bfloat16" ? DType.DTYPE_BFLOAT16 : flags.dtype === "float32" ? DType.DTYPE_FLOAT32 : DType.DTYPE_UNSPECIFIED,
    transformer: quantization(flags.quantize),
    experts: quantization(flags.quantize),
    textEncoder: quantization(flags.textQuantize),
  };
}

export function loadProgressReporter(reporter: Reporter): (event: LoadProgress) => void {
  return (event) => reporter.loading(event.component, Number(event.bytesDone), Number(event.bytesTotal));
}
