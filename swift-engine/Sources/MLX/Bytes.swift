import CMLXBridge

/// Byte buffers in MLX's memory for data on its way into an array, so a decoder can write bytes where the array
/// will keep them (see `MLXArray.adopting(_:dtype:shape:)`). Freed with `free` unless an array adopted them.
public enum PendingBytes {
  /// A buffer of `size` bytes, or nil when the memory is not available.
  public static func allocate(_ size: Int) -> UnsafeMutableRawPointer? { mlxb_bytes_alloc(size) }

  /// Frees a buffer from `allocate` that no array adopted; false (nothing done) for any other pointer.
  @discardableResult
  public static func free(_ pointer: UnsafeMutableRawPointer) -> Bool { mlxb_bytes_free(pointer) != 0 }
}

extension MLXArray {
  /// The array stored in a `PendingBytes` buffer holding exactly its bytes, without a copy; the array owns the
  /// buffer from then on.
  public static func adopting(_ pointer: UnsafeMutableRawPointer, dtype: DType, shape: [Int]) throws -> MLXArray {
    let dims = try int32s(shape)
    return try produce { out in
      dims.withUnsafeBufferPointer { mlxb_adopt_bytes(pointer, dtype.bridgeValue, $0.baseAddress, $0.count, out) }
    }
  }

  /// This array evaluated in row-major order with its bytes in place: valid while the returned array lives.
  public func contiguousBytes() throws -> (array: MLXArray, bytes: UnsafeRawBufferPointer) {
    let dense = try withExtendedLifetime(self) { try produce { mlxb_contiguous(handle, $0) } }
    var data: UnsafeRawPointer?
    var count = 0
    try withExtendedLifetime(dense) { try check(mlxb_data_view(dense.handle, &data, &count)) }
    return (dense, UnsafeRawBufferPointer(start: data, count: count))
  }
}

/// Floating-point data held as bytes (a request's tensor, an output about to be sent).
public enum FloatBytes {
  /// Whether `bytes` read as `dtype` hold no NaN or infinity (an exponent of all ones), scanned in place in the
  /// selected CPU kernel variant (`CPUKernels`), at any alignment: far cheaper than an MLX reduction for a
  /// request's or a response's tensor. True for dtypes that are not floating point.
  public static func allFinite(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> Bool {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
    return mlxb_float_bytes_finite(base, bytes.count, dtype.bridgeValue) != 0
  }
}
