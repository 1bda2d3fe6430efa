#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import MLX

/// How the routed experts' matmul x [E, C, in] -> [E, C, out] is computed. Every expert has exactly C rows
/// (expert-choice routing), so all paths compute the same function; which is fastest depends on the backend
/// (`nucleus-bench model --expert-paths ...` measures them side by side).
///
/// - `batched`: one batched matmul over the E experts; quantized stacks are dequantized to the activation dtype
///   first (the CPU default: MLX's CPU quantized kernels are single-threaded loops).
/// - `gather`: MLX's gather_mm / gather_qmm with the expert index of every group (the Metal/CUDA default for
///   quantized stacks; reported slow on CUDA for small row counts).
/// - `perExpert`: one matmul (quantized_matmul when quantized) per expert, outputs stacked.
///
/// NUCLEUS_EXPERT_PATH=batched|gather|per_expert sets it for a process; `override` switches it in-process.
public enum ExpertMatmulPath: String, CaseIterable, Sendable {
  case batched
  case gather
  case perExpert = "per_expert"

  /// Set by benchmarks to compare paths without restarting; nil means the environment's or the default choice.
  nonisolated(unsafe) public static var override: ExpertMatmulPath?

  private static let fromEnvironment: ExpertMatmulPath? = {
    guard let value = getenv("NUCLEUS_EXPERT_PATH") else { return nil }
    return ExpertMatmulPath(rawValue: String(cString: value))
  }()

  /// The path for a dense (`quantized` false) or quantized stack.
  public static func current(quantized: Bool) -> ExpertMatmulPath {
    if let chosen = override ?? fromEnvironment { return chosen }
    return quantized && !QuantizedKernels.dequantizeFirst ? .gather : .batched
  }

  /// x @ w over the experts of a dense stack (in x's dtype); `batched` computes the batched path its own way.
  static func apply(_ x: MLXArray, dense w: MLXArray, batched: () throws -> MLXArray) throws -> MLXArray {
    switch current(quantized: false) {
    case .batched:
      return try batched()
    case .gather:
      return try gatherMM(x, w, rhsIndices: expertIndices(w.shape[0]), sortedIndices: true)
    case .perExpert:
      return try perExpert(x, count: w.shape[0]) { xe, e in try matmul(xe, slice(w, e)) }
    }
  }

  static func apply(_ x: MLXArray, quantized q: QuantizedWeight, batched: () throws -> MLXArray) throws -> MLXArray {
    switch current(quantized: true) {
    case .batched:
      return try batched()
    case .gather:
      return try gatherQuantizedMM(x, q, rhsIndices: expertIndices(q.weight.shape[0]), transpose: true, sortedIndices: true)
    case .perExpert:
      return try perExpert(x, count: q.weight.shape[0]) { xe, e in
        let expert = QuantizedWeight(
          weight: try slice(q.weight, e), scales: try slice(q.scales, e), biases: try slice(q.biases, e),
          groupSize: q.groupSize, bits: q.bits)
        return try quantizedMatmul(xe, expert, transpose: true)
      }
    }
  }

  private static func expertIndices(_ count: Int) throws -> MLXArray {
    try MLXArray.arange(0, Double(count), dtype: .uint32)
  }

  private static func slice(_ stack: MLXArray, _ e: Int) throws -> MLXArray {
    try stack.sliced(axis: 0, e..<(e + 1)).squeezed(axes: [0])
  }

  private static func perExpert(_ x: MLXArray, count: Int, _ body: (MLXArray, Int) throws -> MLXArray) throws
    -> MLXArray
  {
    let outputs = try (0..<count).map { e in try body(slice(x, e), e).expandedDimensions(axis: 0) }
    return try concatenated(outputs, axis: 0)
  }
}
