// The orchestrator's sampling pieces against the reference: the scheduler's sigmas for the released config and
// every option, and the seeded noise against NumPy's RandomState.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { initialLatents, standardNormal } from "../orchestrator/src/sampling/noise.js";
import { roundBFloat16 } from "../orchestrator/src/sampling/precision.js";
import { flowMatchSchedule, type SchedulerConfig } from "../orchestrator/src/sampling/scheduler.js";
import { toFloat32 } from "../orchestrator/src/tensors/convert.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { repoRoot } from "./helpers/engine.js";
import { pipelineFixtures } from "./helpers/pipeline-fixtures.js";

interface ScheduleCase {
  name: string;
  config: SchedulerConfig;
  steps: number;
  image_seq_len: number;
  sigmas: number[];
  timesteps: number[];
}

describe("flow-match schedule", () => {
  const cases = JSON.parse(readFileSync(join(pipelineFixtures, "schedules.json"), "utf8")) as ScheduleCase[];

  for (const testCase of cases) {
    test(`${testCase.name}, ${testCase.steps} steps, ${testCase.image_seq_len} tokens: the same as diffusers`, () => {
      const schedule = flowMatchSchedule(testCase.config, testCase.steps, testCase.image_seq_len);
      assert.equal(schedule.sigmas.length, testCase.steps + 1);
      // float32 values; the beta spacing's inverse CDF is ours (SciPy's there), so allow one float32 ulp of 1.
      const tolerance = testCase.config.use_beta_sigmas ? 2e-7 : 0;
      for (const [i, expected] of testCase.sigmas.entries()) {
        assert.ok(Math.abs(schedule.sigmas[i]! - expected) <= tolerance, `sigma ${i}: ${schedule.sigmas[i]} vs ${expected}`);
      }
      for (const [i, expected] of testCase.timesteps.entries()) {
        assert.ok(Math.abs(schedule.timesteps[i]! - expected) <= tolerance * 1000, `timestep ${i}: ${schedule.timesteps[i]} vs ${expected}`);
      }
    });
  }

  test("the released config gives plain linear sigmas: 1, 0.98, ..., 0.02, 0", () => {
    const schedule = flowMatchSchedule({ shift: 1, use_dynamic_shifting: false }, 50, 4096);
    assert.equal(schedule.sigmas[1], Math.fround(0.98));
    assert.equal(schedule.sigmas[49], Math.fround(0.02));
    assert.equal(schedule.sigmas[50], 0);
  });

  test("bad schedules are errors", () => {
    assert.throws(() => flowMatchSchedule({}, 0, 16), /steps must be a positive whole number/);
    assert.throws(() => flowMatchSchedule({ use_karras_sigmas: true, use_beta_sigmas: true }, 4, 16), /more than one/);
    assert.throws(() => flowMatchSchedule({ stochastic_sampling: true }, 4, 16), /stochastic_sampling/);
  });
});

describe("seeded noise", () => {
  const fixture = readSafetensors(join(pipelineFixtures, "noise.safetensors"));

  for (const seed of [0, 42, 4294967295]) {
    test(`seed ${seed} gives numpy.random.RandomState(${seed}).standard_normal() as float32`, () => {
      const expected = toFloat32(fixture.tensors.get(`seed_${seed}`)!);
      const ours = standardNormal(seed, expected.length);
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - expected[i]!));
      // V8's and glibc's log may differ in the last bit of a double; after rounding to float32 that is ≤ 1 ulp.
      assert.ok(worst <= 1e-6, `max difference ${worst}`);
    });
  }

  test("initial latents are the noise of [C, 2h, 2w] packed like diffusers' _pack_latents", () => {
    const expected = toFloat32(fixture.tensors.get("packed_seed_42")!);
    const ours = initialLatents(42, 4, 3, 5);
    assert.equal(ours.length, expected.length);
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(ours[i]! - expected[i]!) <= 1e-6, `element ${i}`);
  });

  test("the same seed gives the same noise in another process", () => {
    const script = `import("${join(repoRoot, "dist/orchestrator/src/sampling/noise.js")}").then(m => process.stdout.write(Buffer.from(m.standardNormal(7, 4096).buffer).toString("base64")))`;
    const other = Buffer.from(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }), "base64");
    assert.deepEqual(new Float32Array(other.buffer, other.byteOffset, 4096), standardNormal(7, 4096));
  });

  test("seeds outside 0..2^32-1 are refused", () => {
    assert.throws(() => standardNormal(-1, 4), /seed must be a whole number/);
    assert.throws(() => standardNormal(2 ** 32, 4), /seed must be a whole number/);
  });

  test("bfloat16 rounding is to nearest, ties to even", () => {
    assert.equal(roundBFloat16(1), 1);
    assert.equal(roundBFloat16(1 + 2 ** -8), 1); // exactly half an ulp above 1: ties to the even 1
    assert.equal(roundBFloat16(1 + 3 * 2 ** -8), 1 + 2 ** -6); // 1.5 ulp: up to the even neighbour
    assert.equal(roundBFloat16(1 + 2 ** -7 + 2 ** -9), 1 + 2 ** -7);
  });
});
