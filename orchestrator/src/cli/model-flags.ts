// The flags every command that loads a model shares: where the model is, the compute dtype and quantization.
import { Command, Option } from "commander";

import { DType, type LoadOptions, type LoadProgress } from "../generated/nucleus/engine/v1/engine.js";
import type { ProgressBar } from "./progress.js";
import { quantizationBits } from "./parsers.js";

export interface ModelFlags {
  model?: string;
  dtype?: "float32" | "bfloat16";
  quantize?: number;
  textQuantize?: number;
}

export function addModelOptions(command: Command, { transformer }: { transformer: boolean }): Command {
  command
    .option("--model <dir>", "model folder in the release layout (transformer/, vae/, text_encoder/, processor/, scheduler/); default $NUCLEUS_MODEL")
    .addOption(new Option("--dtype <dtype>", "compute dtype in the engine (default: the checkpoint's on GPUs, float32 on the CPU backend)").choices(["float32", "bfloat16"]));
  if (transformer) {
    command.option("--quantize <bits>", "quantize the transformer's linears and experts at load (8 or 4)", quantizationBits("--quantize"));
  }
  return command.option("--text-quantize <bits>", "quantize the text encoder's linears at load (8 or 4)", quantizationBits("--text-quantize"));
}

export function modelDirectory(flags: ModelFlags): string {
  const directory = flags.model ?? process.env.NUCLEUS_MODEL;
  if (!directory) throw new Error("give the model folder with --model DIR (or set NUCLEUS_MODEL)");
  return directory;
}

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

export function loadProgressReporter(bar: ProgressBar): (event: LoadProgress) => void {
  return (event) =>
    bar.message(`loading ${event.component}: ${Math.round((Number(event.bytesDone) / Math.max(1, Number(event.bytesTotal))) * 100)}%`);
}
