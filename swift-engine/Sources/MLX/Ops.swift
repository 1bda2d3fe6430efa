import CMLXBridge

/// Matrix product with NumPy broadcasting of the batch dimensions.
public func matmul(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray {
  try withExtendedLifetime((a, b)) { try produce { mlxb_matmul(a.handle, b.handle, $0) } }
}

/// Softmax along `axis`; `precise` accumulates in float32 for half-precision inputs.
public func softmax(_ a: MLXArray, axis: Int = -1, precise: Bool = false) throws -> MLXArray {
  try withExtendedLifetime(a) { try produce { mlxb_softmax(a.handle, Int32(axis), precise ? 1 : 0, $0) } }
}

extension MLXArray {
  public func matmul(_ other: MLXArray) throws -> MLXArray { try MLX.matmul(self, other) }
  public func softmax(axis: Int = -1, precise: Bool = false) throws -> MLXArray {
    try MLX.softmax(self, axis: axis, precise: precise)
  }
}
