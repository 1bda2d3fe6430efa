// Tensor-layer benchmark on the DiT's real shapes: our engine's MLX bridge (nucleus-bench) next to PyTorch on
// the same CPU in the same run, in float32 and bfloat16, with the ratio ours / PyTorch in GFLOP/s.
//   npm run setup:reference && node dist/bench/tensor-ops.js [--seconds 1]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

import { launchCommand, type EngineLaunch } from "../orchestrator/src/engine/locate.js";
import { argument, referencePython, root } from "./support.js";

interface Row {
  name: string;
  dtype: string;
  seconds: number;
  gflops: number;
}

const seconds = argument("--seconds") ?? "1";
const python = referencePython();

execFileSync("bash", [join(root, "scripts", "toolchain-run.sh"), "swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "nucleus-bench"], { stdio: "inherit" });
const engine = JSON.parse(readFileSync(join(root, ".deps", "engine.json"), "utf8")) as EngineLaunch;
const bench = launchCommand({ ...engine, binary: join(dirname(engine.binary), "nucleus-bench") });

const parse = (text: string) => text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Row);
const results: { ours: Row[]; torch: Row[] } = { ours: [], torch: [] };
for (const dtype of ["float32", "bfloat16"]) {
  results.ours.push(...parse(execFileSync(bench.file, [...bench.prefix, "ops", "--dtype", dtype, "--seconds", seconds], { encoding: "utf8" })));
  results.torch.push(...parse(execFileSync(python, [join(root, "bench", "reference", "torch_ops.py"), "--dtype", dtype, "--seconds", seconds], { encoding: "utf8" })));
}

const torchVersion = execFileSync(python, ["-c", "import torch; print(torch.__version__, torch.get_num_threads(), 'threads')"], { encoding: "utf8" }).trim();
console.log(`ours: MLX 0.32.4 CPU (OpenBLAS) through the engine's bridge | reference: PyTorch ${torchVersion}`);
console.log("shape".padEnd(44) + "dtype".padEnd(10) + "ours GFLOP/s".padStart(13) + "torch GFLOP/s".padStart(15) + "ratio".padStart(8));
for (const row of results.ours) {
  const reference = results.torch.find((other) => other.dtype === row.dtype && other.name === row.name.replace(/ 4-bit$/, ""));
  const ratio = reference ? (row.gflops / reference.gflops).toFixed(2) : "-";
  const note = row.name.endsWith("4-bit") ? " (vs torch dense)" : "";
  console.log(row.name.padEnd(44) + row.dtype.padEnd(10) + row.gflops.toFixed(1).padStart(13) + (reference?.gflops.toFixed(1) ?? "-").padStart(15) + ratio.padStart(8) + note);
}
