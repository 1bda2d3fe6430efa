import type { Command } from "@commander-js/extra-typings";

import { LocalEngine } from "../engine/process.js";
import { formatBytes } from "../format.js";
import type { GetInfoResponse } from "../generated/nucleus/engine/v1/engine.js";
import { describePlatform } from "../platform.js";
import { UsageError } from "./errors.js";

export interface DoctorReport {
  platform: string;
  node: string;
  engine: {
    pid: number;
    address: string;
    startToReadyMs: number;
  };
  info: GetInfoResponse;
}

/** Starts an engine, asks it for its info with the MLX self-check (and optionally a benchmark), stops it. */
export async function runDoctor(benchmarkSize = 0): Promise<DoctorReport> {
  const engine = await LocalEngine.start();
  try {
    const info = await engine.client.getInfo({ selfCheck: true, benchmarkMatmulSize: benchmarkSize });
    return {
      platform: describePlatform(),
      node: process.version,
      engine: { pid: engine.ready.pid, address: engine.ready.address, startToReadyMs: engine.startToReadyMs },
      info,
    };
  } finally {
    await engine.stop();
  }
}

export function formatDoctorReport(report: DoctorReport): string {
  const { info } = report;
  const memory = info.memory;
  const check = info.selfCheck;
  const lines = [
    `platform      ${report.platform}, node ${report.node}`,
    `engine        nucleus-engine ${info.engineVersion} (pid ${report.engine.pid}, ${report.engine.address}, ready in ${Math.round(report.engine.startToReadyMs)} ms)`,
    `protocol      ${info.protocol}`,
    `MLX           ${info.mlxVersion}`,
    `backend       ${info.backend}`,
    `device        ${info.deviceName}`,
    ...(info.cpu ? [`CPU kernels   ${info.cpu.kernels}, sgemm ${info.cpu.sgemm}, ${info.cpu.threads} threads`] : []),
    memory
      ? `memory        total ${formatBytes(memory.totalBytes)}, active ${formatBytes(memory.activeBytes)}, peak ${formatBytes(memory.peakBytes)}, limit ${formatBytes(memory.limitBytes)}`
      : "memory        (not reported)",
    `self-check    ${check?.passed ? "passed" : "FAILED"} (computed by MLX inside the engine)`,
  ];
  for (const item of check?.items ?? []) {
    lines.push(
      `  ${item.passed ? "ok  " : "FAIL"} ${item.name}: max |error| ${item.maxAbsError.toExponential(2)} (tolerance ${item.tolerance.toExponential(0)})${item.passed ? "" : ` - ${item.detail}`}`,
    );
  }
  if (info.benchmark) {
    lines.push(
      `benchmark     ${info.benchmark.matmulSize}x${info.benchmark.matmulSize} float32 matmul: ${info.benchmark.gflops.toFixed(1)} GFLOP/s (${(info.benchmark.seconds * 1000).toFixed(1)} ms)`,
    );
  }
  return lines.join("\n");
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("check the platform and the engine: versions, backend, memory and an MLX self-check run in the engine")
    .option("--json", "print the report as JSON")
    .option("--benchmark [size]", "also time an NxN float32 matmul on the engine's device (default 1024)")
    .action(async (options) => {
      const size = options.benchmark === undefined ? 0 : options.benchmark === true ? 1024 : Number(options.benchmark);
      if (!Number.isInteger(size) || size < 0 || size > 8192) {
        throw new UsageError(`--benchmark needs a whole number from 1 to 8192, not '${String(options.benchmark)}'`);
      }
      const report = await runDoctor(size);
      console.log(options.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
      if (!report.info.selfCheck?.passed) process.exitCode = 1;
    });
}
