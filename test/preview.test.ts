// Previews' arithmetic without an engine: the least-squares fit against NumPy's lstsq, and the unpacking of packed
// latents against diffusers' packing (packLatents is checked against diffusers in sampling.test.ts).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { execa } from "execa";

import { projectLatents } from "../orchestrator/src/preview/latent-preview.js";
import { fitAffineMap } from "../orchestrator/src/preview/linear-fit.js";
import { packLatents, standardNormal } from "../orchestrator/src/sampling/noise.js";
import { repoRoot } from "./helpers/engine.js";

const python = join(repoRoot, ".deps", "python", "bin", "python");

describe("preview arithmetic", () => {
  test("the affine fit is NumPy's least-squares solution (lstsq on [inputs | 1])", async (t) => {
    if (!existsSync(python)) return t.skip("the Python environment is missing: run npm run setup");
    const rows = 300;
    const channels = 16;
    const inputs = Array.from(standardNormal(1, rows * channels));
    const noise = standardNormal(2, rows * 3);
    // Outputs from a known map plus noise, so the solution is neither exact nor trivial.
    const outputs = Array.from({ length: rows * 3 }, (_, i) => {
      const [n, o] = [Math.floor(i / 3), i % 3];
      let value = 0.1 * (o - 1);
      for (let c = 0; c < channels; c++) value += Math.sin(1 + c * 3 + o) * inputs[n * channels + c]!;
      return value + 0.3 * noise[i]!;
    });
    const ours = fitAffineMap(inputs, outputs, channels, 3);
    const script = [
      "import json, sys, numpy as np",
      "data = json.load(sys.stdin)",
      "x = np.array(data['inputs']).reshape(-1, data['channels'])",
      "y = np.array(data['outputs']).reshape(-1, 3)",
      "solution = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)[0]",
      "print(json.dumps({'weights': solution[:-1].T.tolist(), 'bias': solution[-1].tolist()}))",
    ].join("\n");
    const result = await execa(python, ["-c", script], { input: JSON.stringify({ inputs, outputs, channels }) });
    const numpy = JSON.parse(result.stdout) as { weights: number[][]; bias: number[] };
    for (let o = 0; o < 3; o++) {
      assert.ok(Math.abs(ours.bias[o]! - numpy.bias[o]!) < 1e-9, `bias ${o}: ${ours.bias[o]} vs ${numpy.bias[o]}`);
      for (let c = 0; c < channels; c++) {
        assert.ok(Math.abs(ours.weights[o]![c]! - numpy.weights[o]![c]!) < 1e-9, `weight ${o},${c}: ${ours.weights[o]![c]} vs ${numpy.weights[o]![c]}`);
      }
    }
    assert.throws(() => fitAffineMap([1, 2, 2, 4, 3, 6], [0, 0, 0, 1, 1, 1, 2, 2, 2], 2, 3), /do not determine the map/);
  });

  test("projection unpacks diffusers' packed latents: pixel (y, x) reads latent channel c at (y, x)", () => {
    const channels = 4;
    const [gridHeight, gridWidth] = [2, 3];
    const [height, width] = [2 * gridHeight, 2 * gridWidth];
    // A field whose channel c at (y, x) encodes its position: known pixel values after projection.
    const field = new Float32Array(channels * height * width);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) field[(c * height + y) * width + x] = (y * width + x) / 50 - 0.5 + c * 0.1;
    }
    const packed = packLatents(field, channels, gridHeight, gridWidth);
    // R = channel 0, G = channel 2, B = −channel 3 + 0.2.
    const projection = { channels, weights: [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, -1]], bias: [0, 0, 0.2] };
    const image = projectLatents(packed, { height: gridHeight, width: gridWidth }, projection);
    assert.deepEqual([image.width, image.height], [width, height]);
    const byte = (value: number) => Math.round(Math.min(1, Math.max(0, value / 2 + 0.5)) * 255);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = (c: number) => field[(c * height + y) * width + x]!;
        const expected = [byte(at(0)), byte(at(2)), byte(-at(3) + 0.2)];
        assert.deepEqual([...image.data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)], expected, `pixel ${y},${x}`);
      }
    }
  });
});
