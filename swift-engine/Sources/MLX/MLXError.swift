import CMLXBridge

/// A failure reported by MLX (a shape mismatch, a bad axis, an unsupported dtype, ...), with MLX's own message.
public struct MLXError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Turns a bridge status code into a thrown `MLXError` carrying the bridge's per-thread message.
@inline(__always)
func check(_ status: Int32) throws {
  if status != 0 { throw MLXError(String(cString: mlxb_last_error())) }
}

/// Runs a bridge call that produces one array handle and wraps it.
@inline(__always)
func produce(_ body: (UnsafeMutablePointer<mlxb_array?>) -> Int32) throws -> MLXArray {
  var out: mlxb_array?
  try check(body(&out))
  guard let handle = out else { throw MLXError("the MLX bridge returned no array") }
  return MLXArray(handle: handle)
}
