import MLX

/// The stacked weights of E routed experts for one projection, applied to E groups of tokens at once.
///
/// Checkpoints store them pre-transposed as [E, in, out] (y = x @ W[e]). Quantized, they are kept as
/// [E, out, in] with groups along `in` (what gather_qmm with transpose expects), under the same key plus
/// `.scales` / `.biases`.
public enum ExpertWeights {
  case dense(MLXArray)
  case quantized(QuantizedWeight)

  public var expertCount: Int {
    switch self {
    case .dense(let w): w.shape[0]
    case .quantized(let q): q.weight.shape[0]
    }
  }

  /// Quantizes a dense [E, in, out] stack.
  public static func quantize(_ dense: MLXArray, groupSize: Int = 64, bits: Int = 4) throws -> ExpertWeights {
    .quantized(try MLX.quantized(dense.transposed(0, 2, 1), groupSize: groupSize, bits: bits))
  }

  /// x [E, C, in] -> [E, C, out]: expert e multiplies its own C rows. One batched (or gathered) matmul by default;
  /// `ExpertMatmulPath` chooses.
  public func apply(_ x: MLXArray) throws -> MLXArray {
    switch self {
    case .dense(let w): return try ExpertMatmulPath.apply(x, dense: w)
    case .quantized(let q): return try ExpertMatmulPath.apply(x, quantized: q)
    }
  }
}
