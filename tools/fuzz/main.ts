// npm run fuzz -- [--cases N] [--seed S] [--seconds T] [--save-dir DIR] [--json]
// Fuzzes a real engine (see harness.ts) and prints the counts; exits 1 when it found a crash, hang or unclear error.
import { join } from "node:path";

import { packageRoot } from "../../orchestrator/src/engine/locate.js";
import { runFuzz } from "./harness.js";

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}

function numberOption(name: string, fallback: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} needs a non-negative number, not '${text}'`);
    process.exit(2);
  }
  return value;
}

const repoRoot = packageRoot();
const cases = numberOption("--cases", 2000);
const seed = numberOption("--seed", Date.now() % 2 ** 31);
const seconds = numberOption("--seconds", 600);
const saveDir = option("--save-dir") ?? join(repoRoot, "test", "fixtures", "fuzz");

console.error(`fuzzing the engine: up to ${cases} cases or ${seconds} s, seed ${seed}; findings saved in ${saveDir}`);
const report = await runFuzz({ repoRoot, cases, seed, seconds, saveDir, log: (line) => console.error(line) });
if (process.argv.includes("--json")) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(`cases ${report.cases} (calls ${report.calls}) in ${report.seconds.toFixed(1)} s, seed ${report.seed}, engine starts ${report.engineStarts}`);
  console.log(`crashes ${report.crashes}, hangs ${report.hangs}, unclear errors ${report.unclear}`);
  console.log(`kinds ${JSON.stringify(report.kinds)}`);
  console.log(`calls by RPC ${JSON.stringify(report.methods)}`);
  console.log(`statuses ${JSON.stringify(report.statuses)}`);
  for (const finding of report.findings) console.log(`  ${finding.kind} case ${finding.caseNumber} ${finding.method}: ${finding.what}${finding.saved ? ` (saved ${finding.saved})` : ""}`);
}
process.exit(report.findings.length > 0 ? 1 : 0);
