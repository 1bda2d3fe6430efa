import CMLXBridge

/// Matrix product with NumPy broadcasting of the batch dimensions.
public func matmul(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray {
  try withExtendedLifetime((a, b)) { try produce { mlxb_matmul(a.handle, b.handle, $0) } }
}

/// beta · c + alpha · (a @ b), e.g. a linear layer with bias in one op.
public func addMM(_ c: MLXArray, _ a: MLXArray, _ b: MLXArray, alpha: Float = 1, beta: Float = 1) throws -> MLXArray {
  try withExtendedLifetime((c, a, b)) { try produce { mlxb_addmm(c.handle, a.handle, b.handle, alpha, beta, $0) } }
}

/// Softmax along `axis`; `precise` accumulates in float32 for half-precision inputs.
public func softmax(_ a: MLXArray, axis: Int = -1, precise: Bool = false) throws -> MLXArray {
  try withExtendedLifetime(a) { try produce { mlxb_softmax(a.handle, Int32(axis), precise ? 1 : 0, $0) } }
}

/// 2-D convolution of NHWC `x` with OHWI `weight`.
public func conv2d(
  _ x: MLXArray, _ weight: MLXArray, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
  dilation: (Int, Int) = (1, 1), groups: Int = 1
) throws -> MLXArray {
  try withExtendedLifetime((x, weight)) {
    try produce {
      mlxb_conv2d(
        x.handle, weight.handle, Int32(stride.0), Int32(stride.1), Int32(padding.0), Int32(padding.1),
        Int32(dilation.0), Int32(dilation.1), Int32(groups), $0)
    }
  }
}

/// Nearest-neighbour 2× upsampling of NHWC images.
public func upsampleNearest2x(_ x: MLXArray) throws -> MLXArray {
  try withExtendedLifetime(x) { try produce { mlxb_upsample_nearest_2x(x.handle, $0) } }
}

extension MLXArray {
  public func matmul(_ other: MLXArray) throws -> MLXArray { try MLX.matmul(self, other) }
  public func softmax(axis: Int = -1, precise: Bool = false) throws -> MLXArray {
    try MLX.softmax(self, axis: axis, precise: precise)
  }
}
