// The fuzzing harness (npm run fuzz): a short seeded pass against the real engine, every saved finding replayed, and
// the harness's own judgement checked so that it can fail.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { status } from "@grpc/grpc-js";

import { convertTargetIsSafe, FuzzEngine, makeScratch, removeSharedFiles, runFuzz } from "../tools/fuzz/harness.js";
import { clarity, judge } from "../tools/fuzz/oracle.js";
import { regressionCases, replay } from "../tools/fuzz/replay.js";
import { Wire } from "../tools/fuzz/wire.js";
import { enginePids, repoRoot } from "./helpers/engine.js";

const fixtures = join(repoRoot, "test", "fixtures", "fuzz");

describe("fuzzing", () => {
  after(() => {
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("a short seeded pass: no crash, no hang, no unclear answer, and every kind of case ran", { timeout: 120_000 }, async () => {
    const report = await runFuzz({ repoRoot, cases: 400, seed: 20_251_130, seconds: 12 });
    assert.deepEqual(report.findings, [], JSON.stringify(report.findings, null, 2));
    assert.ok(report.cases >= 100, `only ${report.cases} cases in the time allowed`);
    for (const kind of ["structured", "mutated", "checkpoint", "burst"]) assert.ok((report.kinds[kind] ?? 0) > 0, `no ${kind} case ran`);
    assert.ok(Object.keys(report.methods).length >= 10, `RPCs reached: ${Object.keys(report.methods).join(", ")}`);
    assert.ok((report.statuses.OK ?? 0) > 0 && (report.statuses.INVALID_ARGUMENT ?? 0) > 0, JSON.stringify(report.statuses));
  });

  describe("saved findings replay with a clear answer and the engine alive", () => {
    const scratch = makeScratch(repoRoot);
    const fuzz = new FuzzEngine(scratch.root);
    before(async () => {
      await fuzz.start();
    });
    after(async () => {
      await fuzz.stop();
      rmSync(scratch.root, { recursive: true, force: true });
      removeSharedFiles();
    });

    const cases = regressionCases(fixtures);
    test("there are saved findings (issue 11's crashing requests among them)", () => {
      assert.ok(cases.length >= 6, `${cases.length} cases in ${fixtures}`);
    });
    for (const { name, regression } of cases) {
      test(name, async () => {
        const { results, died, exit } = await replay(fuzz, repoRoot, scratch, regression);
        assert.equal(died, false, `the engine died: ${JSON.stringify(exit)}\n${fuzz.stderr()}`);
        for (const [i, result] of results.entries()) {
          const verdict = clarity(regression.calls[i]!.method, result.code, result.details);
          assert.deepEqual(verdict, { kind: "ok" }, `${status[result.code]}: ${result.details}`);
        }
        const health = await fuzz.engine!.client.health();
        assert.equal(health.serving, true);
      });
    }
  });

  test("the harness's judgement: INTERNAL, long messages, echoed canary bytes and silent failures are flagged", () => {
    assert.equal(clarity("Denoise", status.INTERNAL, "boom").kind, "unclear");
    assert.equal(clarity("Denoise", status.UNKNOWN, "boom").kind, "unclear");
    assert.equal(clarity("LoadModel", status.INVALID_ARGUMENT, "x".repeat(2049)).kind, "unclear");
    assert.equal(clarity("LoadModel", status.INVALID_ARGUMENT, "é".repeat(1025)).kind, "unclear");
    assert.equal(clarity("LoadModel", status.INVALID_ARGUMENT, "bad header: NUCLEUS-FUZZ-SECRET-7f3a").kind, "unclear");
    assert.equal(clarity("LoadModel", status.NOT_FOUND, "").kind, "unclear");
    assert.equal(clarity("LoadModel", status.INVALID_ARGUMENT, "x".repeat(2048)).kind, "ok");
    assert.equal(judge("Denoise", { code: status.DEADLINE_EXCEEDED, details: "", responses: [], elapsedMs: 30_000 }, 30_000).kind, "hang");
  });

  test("ConvertModel requests are sent only when their target stays inside the scratch out/ folder", () => {
    const request = (target: string) => new Wire().bytes(1, "pipeline").bytes(2, target).finish();
    assert.equal(convertTargetIsSafe(request("out/copy-1")), true);
    for (const target of ["/tmp/x", "pipeline/transformer", "out/../pipeline", "tiny-a", "", "../out"]) {
      assert.equal(convertTargetIsSafe(request(target)), false, target);
    }
    // The last target_dir wins in protobuf: a mutation that appends one is judged by it.
    assert.equal(convertTargetIsSafe(Buffer.concat([request("out/a"), new Wire().bytes(2, "/etc").finish()])), false);
  });
});
