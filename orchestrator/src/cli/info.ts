// `nucleus-image info [MODEL]`: what a model folder holds and how much memory each way of loading it needs,
// from its configs and headers (the engine reads no weights).
import type { Command } from "@commander-js/extra-typings";

import { LocalEngine } from "../engine/process.js";
import { formatBytes } from "../format.js";
import type { InspectModelResponse, MemoryPlan } from "../generated/nucleus/engine/v1/engine.js";
import { resolveModel } from "../model/resolve-model.js";
import { limitFlag } from "./parsers.js";
import { loadOptions, withModelOptions } from "./model-options.js";
import { planFlags } from "../pipeline/memory-check.js";

function declareInfo(program: Command) {
  return withModelOptions(
    program
      .command("info")
      .description("show a model's components, sizes, quantization and the memory each way of loading it needs (reads no weights)")
      .argument("[model]", "model folder or Hugging Face id (default: --model, else $NUCLEUS_MODEL)")
      .option("--width <px>", "image width the memory estimate is for", limitFlag("--width", "width"), 1024)
      .option("--height <px>", "image height the memory estimate is for", limitFlag("--height", "height"), 1024)
      .option("--json", "print the engine's InspectModel answer as JSON"),
  );
}

export function registerInfo(program: Command): void {
  declareInfo(program).action(async (model, flags) => {
    const resolved = resolveModel(model ?? flags.model, { revision: flags.revision });
    const engine = await LocalEngine.start();
    try {
      const inspection = await engine.client.inspectModel(resolved.directory, loadOptions(flags, []), { width: flags.width, height: flags.height });
      if (flags.json) {
        console.log(JSON.stringify({ model: resolved.label, directory: resolved.directory, ...inspection }, null, 2));
      } else {
        console.log(formatInspection(resolved.label, inspection, flags.width, flags.height));
      }
    } finally {
      await engine.stop();
    }
  });
}

const billions = (count: number) => `${(count / 1e9).toFixed(2)} B`;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());
}

export function formatInspection(label: string, inspection: InspectModelResponse, width: number, height: number): string {
  const components = table([
    ["component", "parameters", "on disk", "stored as", "quantization", "loaded size"],
    ...inspection.components.map((component) => [
      component.name,
      billions(Number(component.parameterCount)) === billions(Number(component.checkpointParameterCount))
        ? billions(Number(component.parameterCount))
        : `${billions(Number(component.parameterCount))} of ${billions(Number(component.checkpointParameterCount))}`,
      formatBytes(Number(component.diskBytes)), component.storedDtype, component.quantization,
      formatBytes(Number(component.residentBytes)),
    ]),
  ]);
  const peak = (plan: MemoryPlan | undefined) =>
    plan ? `${formatBytes(Number(plan.peakBytes))} ${plan.fits ? "fits" : "too big"}` : "—";
  const find = (bits: number, text: number, low: boolean) =>
    inspection.plans.find((plan) => !plan.requested && (plan.transformer?.bits ?? 0) === bits && (plan.textEncoder?.bits ?? 0) === text && plan.lowMemory === low);
  const plans = table([
    ["loaded with", "both resident", "--low-memory"],
    ...[0, 8, 4].flatMap((bits) => [0, 8, 4].map((text) => {
      const name = planFlags({ transformer: bits ? { bits, groupSize: 64 } : undefined, textEncoder: text ? { bits: text, groupSize: 64 } : undefined, lowMemory: false, peakBytes: 0, fits: false, requested: false, decodeAlone: false });
      return [name === "no quantization" ? "as stored" : name, peak(find(bits, text, false)), peak(find(bits, text, true))];
    })).filter((row) => row[1] !== "—" || row[2] !== "—"),
  ]);
  return [
    `${label} (${inspection.modelDir})`,
    ...components.map((line) => `  ${line}`),
    `peak memory of the whole pipeline at ${width}×${height} (text encoding, CFG denoising, decoding), ` +
      `against the engine's limit of ${formatBytes(Number(inspection.limitBytes))} (${inspection.backend}, ${formatBytes(Number(inspection.totalBytes))} in the machine):`,
    ...plans.map((line) => `  ${line}`),
  ].join("\n");
}
