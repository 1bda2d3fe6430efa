import MLX

/// The stacked weights of E routed experts for one projection, applied to E groups of tokens at once.
///
/// Checkpoints store them pre-transposed as [E, in, out] (y = x @ W[e]). Quantized, they are kept as
/// [E, out, in] with groups along `in` (what gather_qmm with transpose expects), under the same key plus
/// `.scales` / `.biases`.
public final class ExpertLinear: Module {
  public let weight: Parameter

  public init(experts: Int, input: Int, output: Int) {
    weight = Parameter([experts, input, output], quantization: .experts)
  }

  /// The stack is stored under the module's own key (e.g. `experts.gate_up_proj`, no `.weight` suffix).
  public var items: [(String, ModuleItem)] { [("", .parameter(weight))] }

  public var expertCount: Int { weight.shape[0] }

  /// x [E, C, in] -> [E, C, out]: expert e multiplies its own C rows, along ExpertMatmulPath's choice; the batched
  /// path on the dequantize-first backend converts a few experts at a time so the dense copies stay small.
  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    switch weight.value {
    case .quantized(let q):
      return try ExpertMatmulPath.apply(x, quantized: q) {
        try inChunks(x) { range in try dequantized(q.sliced(range), dtype: x.dtype).transposed(0, 2, 1) }
      }
    default:
      let w = try weight.dense(as: weight.storedDType ?? x.dtype)
      return try ExpertMatmulPath.apply(x, dense: w.dtype == x.dtype ? w : try w.asType(x.dtype)) {
        guard w.dtype != x.dtype, QuantizedKernels.dequantizeFirst else { return try matmul(x, weight.dense(as: x.dtype)) }
        return try inChunks(x) { range in try w.sliced(axis: 0, range).asType(x.dtype) }
      }
    }
  }

  /// x @ W per group of experts whose dense weights take at most QuantizedKernels.transientBytes, each group
  /// evaluated before the next is made.
  private func inChunks(_ x: MLXArray, _ denseWeights: (Range<Int>) throws -> MLXArray) throws -> MLXArray {
    let experts = weight.shape[0]
    let bytesPerExpert = Swift.max(1, weight.elementCount / experts * x.dtype.size)
    let perChunk = Swift.max(1, QuantizedKernels.transientBytes / bytesPerExpert)
    guard perChunk < experts else { return try matmul(x, denseWeights(0..<experts)) }
    var parts: [MLXArray] = []
    for start in stride(from: 0, to: experts, by: perChunk) {
      let range = start..<Swift.min(experts, start + perChunk)
      let part = try matmul(x.sliced(axis: 0, range), denseWeights(range))
      try eval(part)
      parts.append(part)
    }
    return try concatenated(parts, axis: 0)
  }
}

extension QuantizedWeight {
  /// Experts `range` of a stacked quantized weight.
  func sliced(_ range: Range<Int>) throws -> QuantizedWeight {
    QuantizedWeight(
      weight: try weight.sliced(axis: 0, range), scales: try scales.sliced(axis: 0, range),
      biases: try biases.sliced(axis: 0, range), groupSize: groupSize, bits: bits)
  }
}
