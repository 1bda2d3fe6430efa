// The end of a generate run: a short human summary (what was written, load time, time per step, decode time,
// peak memory) or, with --json, one JSON object with the same facts and every parameter.
import { formatBytes } from "../format.js";
import type { ImageResult } from "../nucleus-image.js";
import { formatDuration } from "./reporter.js";

export function formatSummary(paths: string[], result: ImageResult): string {
  const { metadata, timings, memory } = result;
  const seed = metadata.seed === undefined ? "" : `, seed ${metadata.seed}`;
  return [
    `wrote ${paths[0]} (${metadata.width}×${metadata.height}, ${metadata.steps} steps, cfg ${metadata.cfg}${seed})`,
    ...paths.slice(1).map((path) => `wrote ${path}`),
    `  load ${formatDuration(timings.loadMs)} · ${(timings.perStepMs / 1000).toFixed(2)} s/step (${formatDuration(timings.stepsMs)} for ${metadata.steps}) · ` +
      `decode ${formatDuration(timings.decodeMs)} · total ${formatDuration(timings.loadMs + timings.totalMs)}`,
    `  peak memory: engine process ${formatBytes(memory.peakRssBytes)} resident, MLX ${formatBytes(memory.mlxPeakBytes)}`,
  ].join("\n");
}

export function summaryJson(paths: string[], result: ImageResult): Record<string, unknown> {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    paths,
    seeds: result.metadata.seed === undefined ? [] : [result.metadata.seed],
    parameters: result.metadata,
    timings: {
      load_ms: round(result.timings.loadMs),
      per_step_ms: round(result.timings.perStepMs),
      steps_ms: round(result.timings.stepsMs),
      denoise_compute_ms: round(result.timings.denoiseComputeMs),
      decode_ms: round(result.timings.decodeMs),
      total_ms: round(result.timings.loadMs + result.timings.totalMs),
    },
    memory: { peak_rss_bytes: result.memory.peakRssBytes, mlx_peak_bytes: result.memory.mlxPeakBytes },
  };
}
