// `nucleus-image doctor` through the installed bin entry point, with a real engine.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";

import { execa } from "execa";

import { enginePids, packageVersion, repoRoot } from "./helpers/engine.js";

const cli = join(repoRoot, "dist", "orchestrator", "src", "cli", "main.js");

describe("nucleus-image doctor", () => {
  test("prints platform, versions, backend, memory and a passing self-check computed in the engine", async () => {
    const result = await execa(process.execPath, [cli, "doctor"]);
    const out = result.stdout;
    assert.match(out, /^platform\s+\S+ \S+/m);
    assert.match(out, new RegExp(`^engine\\s+nucleus-engine ${packageVersion.replace(/\./g, "\\.")} \\(pid \\d+`, "m"));
    assert.match(out, /^MLX\s+0\.32\.4$/m);
    assert.match(out, /^backend\s+(cpu|metal|cuda)$/m);
    assert.match(out, /^memory\s+total \d/m);
    if (/^backend\s+cpu$/m.test(out)) {
      // Setup unpacks oneMKL on x86-64 Linux (unless NUCLEUS_CPU_BLAS leaves it out) and the engine prefers it.
      const mklExpected = process.platform === "linux" && process.arch === "x64" && !process.env.NUCLEUS_CPU_BLAS && !process.env.NUCLEUS_CPU_SGEMM;
      assert.match(out, /^CPU kernels\s+(avx512|avx2|portable|mlx), sgemm (mkl|openblas|reference), [1-9]\d* threads$/m);
      if (mklExpected) assert.match(out, /^CPU kernels\s+\S+, sgemm mkl,/m);
    }
    assert.match(out, /^self-check\s+passed \(computed by MLX inside the engine\)$/m);
    assert.match(out, /^ {2}ok {3}matmul/m);
    assert.match(out, /^ {2}ok {3}softmax/m);
    assert.equal(result.exitCode, 0);
  });

  test("--json and --benchmark give a machine-readable report with a matmul rate", async () => {
    const result = await execa(process.execPath, [cli, "doctor", "--json", "--benchmark", "256"]);
    const report = JSON.parse(result.stdout) as {
      info: { backend: string; selfCheck: { passed: boolean }; benchmark: { matmulSize: number; gflops: number } };
      engine: { startToReadyMs: number };
    };
    assert.equal(report.info.selfCheck.passed, true);
    assert.equal(report.info.benchmark.matmulSize, 256);
    assert.ok(report.info.benchmark.gflops > 0);
    assert.ok(report.engine.startToReadyMs > 0);
  });

  test("NUCLEUS_CPU_SGEMM=openblas makes the engine's matmuls call OpenBLAS instead of oneMKL", async () => {
    const result = await execa(process.execPath, [cli, "doctor", "--json"], { env: { NUCLEUS_CPU_SGEMM: "openblas" } });
    const report = JSON.parse(result.stdout) as { info: { backend: string; cpu?: { sgemm: string; kernels: string } } };
    if (report.info.backend === "cpu") assert.match(report.info.cpu?.sgemm ?? "", /^(openblas|reference)$/);
    else assert.equal(report.info.cpu, undefined, "the CPU kernels are reported on the CPU backend only");
  });

  test("a bad --benchmark value is a clear error", async () => {
    const result = await execa(process.execPath, [cli, "doctor", "--benchmark", "huge"], { reject: false });
    assert.equal(result.exitCode, 2); // a usage error
    assert.match(result.stderr, /--benchmark needs a whole number/);
  });

  test("the doctor leaves no engine running", () => {
    assert.deepEqual(enginePids(), []);
  });
});
