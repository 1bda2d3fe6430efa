import CMLXBridge

extension MLXArray {
  /// Gathers entries at `indices` along `axis`.
  public func take(_ indices: MLXArray, axis: Int) throws -> MLXArray {
    try withExtendedLifetime((self, indices)) { try produce { mlxb_take(handle, indices.handle, Int32(axis), $0) } }
  }

  public func takeAlong(_ indices: MLXArray, axis: Int) throws -> MLXArray {
    try withExtendedLifetime((self, indices)) {
      try produce { mlxb_take_along_axis(handle, indices.handle, Int32(axis), $0) }
    }
  }

  /// A copy with `values` written at `indices` along `axis`.
  public func putAlong(_ indices: MLXArray, values: MLXArray, axis: Int) throws -> MLXArray {
    try withExtendedLifetime((self, indices, values)) {
      try produce { mlxb_put_along_axis(handle, indices.handle, values.handle, Int32(axis), $0) }
    }
  }

  /// A copy with `values` added at `indices` along `axis`; repeated indices accumulate.
  public func scatterAddAlong(_ indices: MLXArray, values: MLXArray, axis: Int) throws -> MLXArray {
    try withExtendedLifetime((self, indices, values)) {
      try produce { mlxb_scatter_add_axis(handle, indices.handle, values.handle, Int32(axis), $0) }
    }
  }

  /// General scatter-add: one index array per axis; `updates` is shaped broadcast(indices) + slice shape.
  public func scatterAdd(indices: [MLXArray], updates: MLXArray, axes: [Int]) throws -> MLXArray {
    guard indices.count == axes.count else { throw MLXError("scatterAdd needs one index array per axis") }
    let list = handles(indices)
    return try withExtendedLifetime((self, indices, updates)) {
      try withInt32s(axes) { axisValues, _ in
        try list.withUnsafeBufferPointer { indexHandles in
          try produce {
            mlxb_scatter_add(handle, indexHandles.baseAddress, indexHandles.count, updates.handle, axisValues, $0)
          }
        }
      }
    }
  }
}

/// Indices that partition `a` along `axis` so that position `kth` holds the kth smallest and smaller come first.
public func argPartition(_ a: MLXArray, kth: Int, axis: Int = -1) throws -> MLXArray {
  try withExtendedLifetime(a) { try produce { mlxb_argpartition(a.handle, Int32(kth), Int32(axis), $0) } }
}

/// Indices that sort `a` along `axis` (stable).
public func argSort(_ a: MLXArray, axis: Int = -1) throws -> MLXArray {
  try withExtendedLifetime(a) { try produce { mlxb_argsort(a.handle, Int32(axis), $0) } }
}
