import CMLXBridge

extension MLXArray {
  public func asType(_ dtype: DType) throws -> MLXArray {
    if dtype == self.dtype { return self }
    return try withExtendedLifetime(self) { try produce { mlxb_astype(handle, dtype.bridgeValue, $0) } }
  }

  /// A view with a new shape; one dimension may be -1.
  public func reshaped(_ shape: [Int]) throws -> MLXArray {
    try withExtendedLifetime(self) {
      try withInt32s(shape) { dims, count in try produce { mlxb_reshape(handle, dims, count, $0) } }
    }
  }

  public func reshaped(_ shape: Int...) throws -> MLXArray { try reshaped(shape) }

  /// Permutes the axes (reverses them when none are given).
  public func transposed(_ axes: [Int]) throws -> MLXArray {
    try withExtendedLifetime(self) {
      try withInt32s(axes) { values, count in try produce { mlxb_transpose(handle, values, count, $0) } }
    }
  }

  public func transposed(_ axes: Int...) throws -> MLXArray { try transposed(axes) }

  /// Elements start..<stop (with strides) along every axis.
  public func sliced(start: [Int], stop: [Int], strides: [Int]? = nil) throws -> MLXArray {
    guard start.count == ndim, stop.count == ndim, (strides?.count ?? ndim) == ndim else {
      throw MLXError("slice needs \(ndim) start, stop and stride values for a \(ndim)-d array")
    }
    let step = try int32s(strides ?? Array(repeating: 1, count: ndim))
    return try withExtendedLifetime(self) {
      try withInt32s(start) { begin, count in
        try withInt32s(stop) { end, _ in try produce { mlxb_slice(handle, begin, end, step, count, $0) } }
      }
    }
  }

  /// Elements start..<end along one axis, everything along the others.
  public func sliced(axis: Int, _ range: Range<Int>) throws -> MLXArray {
    let dims = shape
    let resolved = axis < 0 ? axis + dims.count : axis
    guard dims.indices.contains(resolved) else { throw MLXError("axis \(axis) is out of range for shape \(dims)") }
    var start = Array(repeating: 0, count: dims.count)
    var stop = dims
    start[resolved] = range.lowerBound
    stop[resolved] = range.upperBound
    return try sliced(start: start, stop: stop)
  }

  public func expandedDimensions(axes: [Int]) throws -> MLXArray {
    try withExtendedLifetime(self) {
      try withInt32s(axes) { values, count in try produce { mlxb_expand_dims(handle, values, count, $0) } }
    }
  }

  public func expandedDimensions(axis: Int) throws -> MLXArray { try expandedDimensions(axes: [axis]) }

  /// Removes the given size-1 axes (all of them when none are given).
  public func squeezed(axes: [Int] = []) throws -> MLXArray {
    try withExtendedLifetime(self) {
      try withInt32s(axes) { values, count in try produce { mlxb_squeeze(handle, values, count, $0) } }
    }
  }

  public func broadcast(to shape: [Int]) throws -> MLXArray {
    try withExtendedLifetime(self) {
      try withInt32s(shape) { dims, count in try produce { mlxb_broadcast_to(handle, dims, count, $0) } }
    }
  }

  /// Repeats every element `count` times along `axis`.
  public func repeated(_ count: Int, axis: Int) throws -> MLXArray {
    try withExtendedLifetime(self) { try produce { mlxb_repeat(handle, Int32(count), Int32(axis), $0) } }
  }

  /// `parts` equal pieces along `axis`.
  public func split(parts: Int, axis: Int = 0) throws -> [MLXArray] {
    try withExtendedLifetime(self) { try produceList { mlxb_split_equal(handle, Int32(parts), Int32(axis), $0) } }
  }

  /// Pieces cut before each index along `axis`.
  public func split(indices: [Int], axis: Int = 0) throws -> [MLXArray] {
    try withExtendedLifetime(self) {
      try withInt32s(indices) { values, count in
        try produceList { mlxb_split_at(handle, values, count, Int32(axis), $0) }
      }
    }
  }
}

public func concatenated(_ arrays: [MLXArray], axis: Int = 0) throws -> MLXArray {
  let list = handles(arrays)
  return try withExtendedLifetime(arrays) {
    try list.withUnsafeBufferPointer { buffer in
      try produce { mlxb_concatenate(buffer.baseAddress, buffer.count, Int32(axis), $0) }
    }
  }
}
