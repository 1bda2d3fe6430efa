import MLX

/// The error for a computation whose inputs were finite but whose output is not: inputs far outside the range the
/// model works in overflowed it (the client's to fix: INVALID_ARGUMENT), or, from inputs in a normal range, the
/// weights are broken (FAILED_PRECONDITION). Either way the message names the step and the largest input values.
enum NonFiniteOutput {
  /// Inputs with a larger magnitude than this are far outside what latents (about unit variance) and prompt
  /// embeddings (hidden states) hold.
  static let usualMagnitude: Float = 1e4

  static func error(what: String, step: String, inputs: [(name: String, array: MLXArray)]) -> RPCError {
    let largest = inputs.map { input in (input.name, (try? MLX.max(abs(input.array.asType(.float32))).asArray(Float.self)[0]) ?? 0) }
    let described = largest.map { "\($0.0) up to |x| = \($0.1)" }.joined(separator: ", ")
    if largest.contains(where: { $0.1 > usualMagnitude }) {
      return RPCError(
        .invalidArgument,
        "\(what) produced NaN or infinite values \(step): the inputs are far outside the model's range (\(described)); send latents and embeddings of the usual magnitude")
    }
    return RPCError(
      .failedPrecondition,
      "\(what) produced NaN or infinite values \(step) from inputs in a normal range (\(described)): the loaded weights are broken (a float16 checkpoint overflowing is a common cause; load it as bfloat16 or float32)")
  }
}
