import CMLXBridge

/// Converts Swift integers (shapes, axes) to the bridge's int32, refusing values that do not fit.
func int32s(_ values: [Int]) throws -> [Int32] {
  try values.map { value in
    guard let narrow = Int32(exactly: value) else { throw MLXError("\(value) does not fit in a 32-bit shape or axis") }
    return narrow
  }
}

/// Calls a bridge function that takes an int32 list, keeping the list alive for the call.
func withInt32s<R>(_ values: [Int], _ body: (UnsafePointer<Int32>?, Int) throws -> R) throws -> R {
  let narrow = try int32s(values)
  return try narrow.withUnsafeBufferPointer { try body($0.baseAddress, $0.count) }
}

/// Calls a bridge function that produces a list of arrays.
func produceList(_ body: (UnsafeMutablePointer<mlxb_vector?>) -> Int32) throws -> [MLXArray] {
  var out: mlxb_vector?
  try check(body(&out))
  guard let vector = out else { throw MLXError("the MLX bridge returned no array list") }
  defer { mlxb_vector_free(vector) }
  return try (0..<mlxb_vector_size(vector)).map { index in try produce { mlxb_vector_get(vector, index, $0) } }
}

/// Handles of several arrays, for bridge calls that take a list; the caller keeps `arrays` alive.
func handles(_ arrays: [MLXArray]) -> [mlxb_array?] { arrays.map { Optional($0.handle) } }
