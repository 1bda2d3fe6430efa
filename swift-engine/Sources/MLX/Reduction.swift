import CMLXBridge

func reduce(_ op: mlxb_reduce_op, _ a: MLXArray, _ axes: [Int], _ keepDims: Bool) throws -> MLXArray {
  try withExtendedLifetime(a) {
    try withInt32s(axes) { values, count in try produce { mlxb_reduce(op, a.handle, values, count, keepDims ? 1 : 0, $0) } }
  }
}

/// Reductions over `axes` (all axes when empty).
public func sum(_ a: MLXArray, axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray {
  try reduce(MLXB_SUM, a, axes, keepDims)
}
public func mean(_ a: MLXArray, axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray {
  try reduce(MLXB_MEAN, a, axes, keepDims)
}
public func max(_ a: MLXArray, axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray {
  try reduce(MLXB_MAX, a, axes, keepDims)
}
public func min(_ a: MLXArray, axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray {
  try reduce(MLXB_MIN, a, axes, keepDims)
}
public func argMax(_ a: MLXArray, axis: Int, keepDims: Bool = false) throws -> MLXArray {
  try reduce(MLXB_ARGMAX, a, [axis], keepDims)
}

/// sqrt(sum(a²)) over `axes` (all axes when empty).
public func l2Norm(_ a: MLXArray, axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray {
  try withExtendedLifetime(a) {
    try withInt32s(axes) { values, count in try produce { mlxb_l2_norm(a.handle, values, count, keepDims ? 1 : 0, $0) } }
  }
}

extension MLXArray {
  public func sum(axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray { try MLX.sum(self, axes: axes, keepDims: keepDims) }
  public func mean(axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray { try MLX.mean(self, axes: axes, keepDims: keepDims) }
  public func max(axes: [Int] = [], keepDims: Bool = false) throws -> MLXArray { try MLX.max(self, axes: axes, keepDims: keepDims) }
}

extension MLXArray {
  /// Whether every element is finite (no NaN or ±Inf). First the plain sum, which needs no copy of the array (a
  /// request's embedding can be hundreds of MB): NaN and ±Inf propagate, so a finite sum means all are finite. Only
  /// when it is not (a non-finite value, or finite ones overflowing) the exact test: x · 0 is 0 for finite x and NaN
  /// otherwise, so that sum is 0 exactly when all are finite.
  public func allFinite() throws -> Bool {
    guard dtype.isFloatingPoint else { return true }
    if try sum().asType(.float32).asArray(Float.self)[0].isFinite { return true }
    return try (self.asType(.float32) * 0).sum().asArray(Float.self)[0] == 0
  }
}
