#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How `MLXFast.scaledDotProductAttention` computes: MLX's fused kernel (`fused`, the default) or explicit
/// matmul → softmax → matmul (`unfused`; grouped-query heads by folding each group's queries into one matrix, so
/// keys and values are never repeated). Both compute the same function; which is faster depends on the backend and
/// dtype (`nucleus-bench model --attention fused,unfused` measures both).
///
/// NUCLEUS_ATTENTION=fused|unfused sets it for a process; `override` switches it in-process.
public enum AttentionPath: String, CaseIterable, Sendable {
  case fused
  case unfused

  nonisolated(unsafe) public static var override: AttentionPath?

  private static let fromEnvironment: AttentionPath? = {
    guard let value = getenv("NUCLEUS_ATTENTION") else { return nil }
    return AttentionPath(rawValue: String(cString: value))
  }()

  public static var current: AttentionPath { override ?? fromEnvironment ?? .fused }

  /// softmax(q·kᵀ·scale + mask)·v with q [B, Hq, L, D], k and v [B, Hkv, S, D]; scores and softmax in float32.
  static func unfused(
    queries: MLXArray, keys: MLXArray, values: MLXArray, scale: Float, mask: MLXFast.AttentionMask
  ) throws -> MLXArray {
    let (b, heads, length, depth) = (queries.shape[0], queries.shape[1], queries.shape[2], queries.shape[3])
    let keyHeads = keys.shape[1]
    let sources = keys.shape[2]
    let group = heads / keyHeads
    // Query head h uses key head h / group: fold each group's queries into rows [group · L].
    let q = try queries.reshaped(b, keyHeads, group * length, depth)
    var scores = try matmul(q, keys.transposed(0, 1, 3, 2)).asType(.float32) * Double(scale)
    switch mask {
    case .none:
      break
    case .causal:
      let rows = try MLXArray.arange(0, Double(length), dtype: .int32).reshaped(length, 1)
      let columns = try MLXArray.arange(0, Double(sources), dtype: .int32).reshaped(1, sources)
      // Causal with the queries aligned to the end of the keys, as MLX does.
      let allowed = try lessEqual(columns, rows + Double(sources - length))
      scores = try foldedMask(allowed.reshaped(1, 1, length, sources), scores, b, heads, keyHeads, group, length, sources)
    case .array(let array):
      scores = try foldedMask(array, scores, b, heads, keyHeads, group, length, sources)
    }
    let weights = try softmax(scores, axis: -1, precise: true).asType(values.dtype)
    return try matmul(weights, values).reshaped(b, heads, length, depth)
  }

  /// Applies a mask broadcastable to [B, Hq, L, S] to scores laid out [B, Hkv, group · L, S].
  private static func foldedMask(
    _ mask: MLXArray, _ scores: MLXArray, _ b: Int, _ heads: Int, _ keyHeads: Int, _ group: Int, _ length: Int,
    _ sources: Int
  ) throws -> MLXArray {
    var m = mask
    while m.ndim < 4 { m = try m.expandedDimensions(axis: 0) }
    let folded = try m.broadcast(to: [m.shape[0], heads, length, sources])
      .reshaped(m.shape[0], keyHeads, group * length, sources)
    if m.dtype == .bool {
      return try which(folded, scores, MLXArray.scalar(-Double.infinity, dtype: .float32))
    }
    return try scores + folded.asType(.float32)
  }
}
