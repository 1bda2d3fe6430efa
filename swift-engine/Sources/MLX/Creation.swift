import CMLXBridge

extension MLXArray {
  /// A scalar of `dtype` (float32 by default).
  public static func scalar(_ value: Double, dtype: DType = .float32) throws -> MLXArray {
    try produce { mlxb_scalar(value, dtype.bridgeValue, $0) }
  }

  public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> MLXArray {
    try withInt32s(shape) { dims, count in try produce { mlxb_zeros(dims, count, dtype.bridgeValue, $0) } }
  }

  public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> MLXArray {
    try withInt32s(shape) { dims, count in try produce { mlxb_ones(dims, count, dtype.bridgeValue, $0) } }
  }

  public static func full(_ shape: [Int], value: Double, dtype: DType = .float32) throws -> MLXArray {
    try withInt32s(shape) { dims, count in try produce { mlxb_full(dims, count, value, dtype.bridgeValue, $0) } }
  }

  /// start, start + step, ... up to (not including) stop.
  public static func arange(_ start: Double, _ stop: Double, step: Double = 1, dtype: DType = .float32) throws
    -> MLXArray
  {
    try produce { mlxb_arange(start, stop, step, dtype.bridgeValue, $0) }
  }
}

/// Random numbers from explicit keys (the `MLXRandom` namespace of mlx-swift).
public enum MLXRandom {
  /// A PRNG key (uint32 [2]) derived from `seed`.
  public static func key(_ seed: UInt64) throws -> MLXArray {
    try produce { mlxb_random_key(seed, $0) }
  }

  /// `count` independent keys from `key`, as [count, 2].
  public static func split(key: MLXArray, into count: Int = 2) throws -> MLXArray {
    try withExtendedLifetime(key) { try produce { mlxb_random_split(key.handle, Int32(count), $0) } }
  }

  /// Standard normal samples; the same key gives the same samples.
  public static func normal(_ shape: [Int], dtype: DType = .float32, key: MLXArray? = nil) throws -> MLXArray {
    try withExtendedLifetime(key) {
      try withInt32s(shape) { dims, count in
        try produce { mlxb_random_normal(dims, count, dtype.bridgeValue, key?.handle, $0) }
      }
    }
  }
}
