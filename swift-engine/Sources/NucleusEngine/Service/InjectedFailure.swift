import MLX

/// A real MLX failure on demand, for the tests of what a client sees when MLX throws inside a call:
/// `NUCLEUS_INJECT_MLX_FAILURE=Decode` makes every Decode run an operation MLX refuses (a reshape that does not fit)
/// where it would decode. Unset in normal use.
enum InjectedFailure {
  static let methods = Set(
    (ProcessInfo.processInfo.environment["NUCLEUS_INJECT_MLX_FAILURE"] ?? "").split(separator: ",").map(String.init))

  static func raise(in method: String) throws {
    guard methods.contains(method) else { return }
    try eval(try MLXArray.zeros([2]).reshaped(3))
  }
}
