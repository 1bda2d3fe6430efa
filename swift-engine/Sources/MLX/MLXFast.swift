import CMLXBridge

/// Fused kernels (mlx-swift's `MLXFast`).
public enum MLXFast {
  /// LayerNorm over the last axis; weight and bias are optional (no affine when both are nil).
  public static func layerNorm(_ x: MLXArray, weight: MLXArray? = nil, bias: MLXArray? = nil, eps: Float) throws
    -> MLXArray
  {
    try withExtendedLifetime((x, weight, bias)) {
      try produce { mlxb_layer_norm(x.handle, weight?.handle, bias?.handle, eps, $0) }
    }
  }

  /// RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · weight.
  public static func rmsNorm(_ x: MLXArray, weight: MLXArray?, eps: Float) throws -> MLXArray {
    try withExtendedLifetime((x, weight)) { try produce { mlxb_rms_norm(x.handle, weight?.handle, eps, $0) } }
  }

  /// x · cos + swapPairs(x) · sin over the last axis, where swapPairs exchanges elements 2k and 2k+1: a rotary
  /// embedding of interleaved pairs from precomputed tables (`sin` carries the sign of each pair's first element).
  /// `cos` and `sin` broadcast to x's shape; the last axis must be even.
  public static func rotatePairs(_ x: MLXArray, cos: MLXArray, sin: MLXArray) throws -> MLXArray {
    try withExtendedLifetime((x, cos, sin)) { try produce { mlxb_rotate_pairs(x.handle, cos.handle, sin.handle, $0) } }
  }

  public enum AttentionMask {
    case none
    case causal
    /// Boolean (true = attend) or additive, broadcastable to [B, Hq, L, S].
    case array(MLXArray)
  }

  /// softmax(q·kᵀ·scale + mask)·v for q [B, Hq, L, D] and k, v [B, Hkv, S, D] (grouped-query when Hkv < Hq).
  /// Fused by default; `AttentionPath` can switch to explicit matmuls.
  public static func scaledDotProductAttention(
    queries: MLXArray, keys: MLXArray, values: MLXArray, scale: Float, mask: AttentionMask = .none
  ) throws -> MLXArray {
    if AttentionPath.current == .unfused {
      return try AttentionPath.unfused(queries: queries, keys: keys, values: values, scale: scale, mask: mask)
    }
    let (mode, maskArray): (mlxb_mask_mode, MLXArray?) =
      switch mask {
      case .none: (MLXB_MASK_NONE, nil)
      case .causal: (MLXB_MASK_CAUSAL, nil)
      case .array(let array): (MLXB_MASK_ARRAY, array)
      }
    return try withExtendedLifetime((queries, keys, values, maskArray)) {
      try produce {
        mlxb_scaled_dot_product_attention(
          queries.handle, keys.handle, values.handle, scale, mode, maskArray?.handle, $0)
      }
    }
  }
}
