// Ordinary least squares for a small affine map: outputs ≈ inputs · W + b, solved through the normal equations
// (at most a few dozen unknowns per output, so an exact solve is cheap and stable enough in float64).

export interface AffineMap {
  /** weights[o][i]: input channel i's contribution to output channel o. */
  weights: number[][];
  /** bias[o] */
  bias: number[];
}

/**
 * Fits `outputs` [N, outChannels] from `inputs` [N, inChannels] (row-major) with a bias, minimising the squared
 * error as numpy.linalg.lstsq does for the design matrix [inputs | 1]. Throws when the inputs do not determine
 * the map (fewer independent rows than unknowns).
 */
export function fitAffineMap(inputs: ArrayLike<number>, outputs: ArrayLike<number>, inChannels: number, outChannels: number): AffineMap {
  const rows = inputs.length / inChannels;
  if (!Number.isInteger(rows) || outputs.length !== rows * outChannels) {
    throw new Error(`fitAffineMap: ${inputs.length} inputs and ${outputs.length} outputs do not make rows of ${inChannels} and ${outChannels}`);
  }
  const size = inChannels + 1;
  // Normal equations A·X = B with A = DᵀD [size, size], B = DᵀY [size, outChannels], D = [inputs | 1].
  const a = new Float64Array(size * size);
  const b = new Float64Array(size * outChannels);
  const row = new Float64Array(size);
  for (let n = 0; n < rows; n++) {
    for (let i = 0; i < inChannels; i++) row[i] = inputs[n * inChannels + i]!;
    row[inChannels] = 1;
    for (let i = 0; i < size; i++) {
      const ri = row[i]!;
      for (let j = 0; j < size; j++) a[i * size + j] += ri * row[j]!;
      for (let o = 0; o < outChannels; o++) b[i * outChannels + o] += ri * outputs[n * outChannels + o]!;
    }
  }
  const solution = solve(a, b, size, outChannels);
  return {
    weights: Array.from({ length: outChannels }, (_, o) => Array.from({ length: inChannels }, (_, i) => solution[i * outChannels + o]!)),
    bias: Array.from({ length: outChannels }, (_, o) => solution[inChannels * outChannels + o]!),
  };
}

/** Gaussian elimination with partial pivoting; A [n, n] and B [n, m] are overwritten. */
function solve(a: Float64Array, b: Float64Array, n: number, m: number): Float64Array {
  const scale = Math.max(...Array.from({ length: n }, (_, i) => Math.abs(a[i * n + i]!)), 1e-300);
  for (let column = 0; column < n; column++) {
    let pivot = column;
    for (let r = column + 1; r < n; r++) if (Math.abs(a[r * n + column]!) > Math.abs(a[pivot * n + column]!)) pivot = r;
    if (Math.abs(a[pivot * n + column]!) <= scale * 1e-12) {
      throw new Error("fitAffineMap: the inputs do not determine the map (too few independent samples)");
    }
    if (pivot !== column) {
      for (let k = 0; k < n; k++) [a[column * n + k], a[pivot * n + k]] = [a[pivot * n + k]!, a[column * n + k]!];
      for (let k = 0; k < m; k++) [b[column * m + k], b[pivot * m + k]] = [b[pivot * m + k]!, b[column * m + k]!];
    }
    for (let r = column + 1; r < n; r++) {
      const factor = a[r * n + column]! / a[column * n + column]!;
      if (factor === 0) continue;
      for (let k = column; k < n; k++) a[r * n + k] -= factor * a[column * n + k]!;
      for (let k = 0; k < m; k++) b[r * m + k] -= factor * b[column * m + k]!;
    }
  }
  const x = new Float64Array(n * m);
  for (let r = n - 1; r >= 0; r--) {
    for (let k = 0; k < m; k++) {
      let value = b[r * m + k]!;
      for (let c = r + 1; c < n; c++) value -= a[r * n + c]! * x[c * m + k]!;
      x[r * m + k] = value / a[r * n + r]!;
    }
  }
  return x;
}
