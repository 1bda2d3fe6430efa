import CMLXBridge

/// An MLX array: a lazily evaluated tensor whose handle is freed when the last Swift reference goes away.
public final class MLXArray: @unchecked Sendable {
  let handle: mlxb_array

  init(handle: mlxb_array) { self.handle = handle }

  deinit { mlxb_free(handle) }

  /// Copies `values` into a new array of `shape` (row-major).
  public convenience init<T: HasDType>(_ values: [T], _ shape: [Int]) throws {
    let count = shape.reduce(1, *)
    guard count == values.count else {
      throw MLXError("\(values.count) values do not fill shape \(shape) (\(count) elements)")
    }
    let handle = try values.withUnsafeBytes { try MLXArray.makeHandle(bytes: $0, dtype: T.dtype, shape: shape) }
    self.init(handle: handle)
  }

  /// A scalar array.
  public convenience init<T: HasDType>(_ value: T) throws {
    try self.init([value], [])
  }

  /// Copies raw little-endian bytes of `dtype` into a new array of `shape`.
  public convenience init(bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws {
    self.init(handle: try MLXArray.makeHandle(bytes: bytes, dtype: dtype, shape: shape))
  }

  private static func makeHandle(bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws -> mlxb_array {
    let expected = shape.reduce(1, *) * dtype.size
    guard bytes.count == expected else {
      throw MLXError("\(bytes.count) bytes do not fill a \(dtype) array of shape \(shape) (\(expected) bytes)")
    }
    let dims = try shape.map { dimension -> Int32 in
      guard dimension >= 0, dimension <= Int(Int32.max) else { throw MLXError("invalid dimension \(dimension)") }
      return Int32(dimension)
    }
    var out: mlxb_array?
    try check(dims.withUnsafeBufferPointer { mlxb_from_data(bytes.baseAddress, dtype.bridgeValue, $0.baseAddress, $0.count, &out) })
    guard let handle = out else { throw MLXError("the MLX bridge returned no array") }
    return handle
  }

  public var ndim: Int {
    var n = 0
    _ = mlxb_ndim(handle, &n)
    return n
  }

  public var shape: [Int] {
    var dims = [Int32](repeating: 0, count: ndim)
    _ = dims.withUnsafeMutableBufferPointer { mlxb_shape(handle, $0.baseAddress, $0.count) }
    return dims.map(Int.init)
  }

  public var dtype: DType {
    var value = MLXB_FLOAT32
    _ = mlxb_dtype_of(handle, &value)
    return DType(bridgeValue: value)
  }

  public var size: Int {
    var n = 0
    _ = mlxb_size(handle, &n)
    return n
  }

  public var nbytes: Int { size * dtype.size }

  /// Evaluates the array and returns its bytes, row-major and little-endian.
  public func bytes() throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: nbytes)
    try buffer.withUnsafeMutableBytes { raw in
      try check(mlxb_read(handle, raw.baseAddress, raw.count))
    }
    return buffer
  }

  /// Evaluates the array and returns its elements; `T` must be the array's dtype.
  public func asArray<T: HasDType>(_ type: T.Type) throws -> [T] {
    guard T.dtype == dtype else {
      throw MLXError("asArray(\(T.self)) on a \(dtype) array: convert it with asType(.\(T.dtype)) first")
    }
    let raw = try bytes()
    return raw.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
  }

  /// Evaluates the array and returns its single element.
  public func item<T: HasDType>(_ type: T.Type) throws -> T {
    guard size == 1 else { throw MLXError("item() on an array of \(size) elements") }
    return try asArray(type)[0]
  }
}
