// Before any weight is read: does the whole pipeline (text encoding, a CFG forward, the decode) fit in the memory
// the engine may use, loaded the way asked? If not, say what it needs, what there is, and which choices would fit.
import type { EngineClient } from "../engine/client.js";
import type { InspectModelResponse, LoadOptions, MemoryPlan } from "../generated/nucleus/engine/v1/engine.js";
import { formatBytes } from "../format.js";

export class NotEnoughMemoryError extends Error {
  constructor(readonly neededBytes: number, readonly limitBytes: number, readonly fitting: MemoryPlan[], message: string) {
    super(message);
    this.name = "NotEnoughMemoryError";
  }
}

/** The CLI flags that load a model as `plan` does. */
export function planFlags(plan: MemoryPlan): string {
  const flags: string[] = [];
  if (plan.transformer?.bits) flags.push(`--quantize ${plan.transformer.bits}`);
  if (plan.textEncoder?.bits) flags.push(`--text-quantize ${plan.textEncoder.bits}`);
  if (plan.lowMemory) flags.push("--low-memory");
  return flags.length ? flags.join(" ") : "no quantization";
}

/** Better quality first: fewer quantized bits lost, then keeping both models resident (faster). */
function quality(plan: MemoryPlan): number {
  const cost = (bits: number | undefined) => (bits === 4 ? 2 : bits === 8 ? 1 : 0);
  return cost(plan.transformer?.bits) * 10 + cost(plan.textEncoder?.bits) * 2 + (plan.lowMemory ? 1 : 0);
}

/**
 * Up to `count` plans that fit, best quality first, each one needing less memory than every plan before it (a
 * further flag that saves nothing is not worth suggesting: in low-memory mode --text-quantize does not lower the
 * peak when denoising is the largest phase).
 */
export function suggestedPlans(fitting: MemoryPlan[], count = 3): MemoryPlan[] {
  const chosen: MemoryPlan[] = [];
  for (const plan of [...fitting].sort((a, b) => quality(a) - quality(b))) {
    if (chosen.length === count) break;
    if (chosen.every((kept) => Number(plan.peakBytes) < Number(kept.peakBytes))) chosen.push(plan);
  }
  return chosen;
}

/** Whether low-memory mode should decode with the transformer unloaded at this size (the engine decides). */
export async function decodeAlone(
  client: EngineClient, directory: string, load: Partial<LoadOptions>, size: { width: number; height: number },
): Promise<boolean> {
  const inspection = await client.inspectModel(directory, { ...load, unloadTextEncoderAfterEncode: true }, size);
  return inspection.plans.find((plan) => plan.requested)?.decodeAlone ?? false;
}

export async function checkMemory(
  client: EngineClient, directory: string, load: Partial<LoadOptions>, lowMemory: boolean,
  size: { width: number; height: number },
): Promise<InspectModelResponse> {
  const inspection = await client.inspectModel(directory, { ...load, unloadTextEncoderAfterEncode: lowMemory }, size);
  const requested = inspection.plans.find((plan) => plan.requested);
  if (!requested || requested.fits) return inspection;
  const fitting = inspection.plans.filter((plan) => !plan.requested && plan.fits).sort((a, b) => quality(a) - quality(b));
  const needed = Number(requested.peakBytes);
  const limit = Number(inspection.limitBytes);
  const options = suggestedPlans(fitting).map((plan) => `${planFlags(plan)} (about ${formatBytes(Number(plan.peakBytes))})`);
  const advice = options.length
    ? `try ${options.join(", or ")}; converting once (nucleus-image convert SRC DST --quantize N) makes later loads faster`
    : "no way of loading it fits this machine; use a machine with more memory";
  throw new NotEnoughMemoryError(
    needed, limit, fitting,
    `loading ${directory} with ${planFlags(requested)} at ${size.width}×${size.height} needs about ${formatBytes(needed)}, ` +
      `but the engine may use ${formatBytes(limit)} (of ${formatBytes(Number(inspection.totalBytes))}): ${advice}`,
  );
}
