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

  /// x [E, C, in] -> [E, C, out]: expert e multiplies its own C rows. One batched (or gathered) matmul, no loop.
  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    switch weight.value {
    case .quantized(let q) where !QuantizedKernels.dequantizeFirst:
      let experts = try MLXArray.arange(0, Double(q.weight.shape[0]), dtype: .uint32)
      return try gatherQuantizedMM(x, q, rhsIndices: experts, transpose: true, sortedIndices: true)
    case .quantized(let q):
      return try matmul(x, dequantized(q, dtype: x.dtype).transposed(0, 2, 1))
    default:
      return try matmul(x, weight.dense(as: x.dtype))
    }
  }
}
