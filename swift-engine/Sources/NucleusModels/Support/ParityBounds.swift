/// How far our outputs may lie from the reference implementations' on the committed fixtures, as fractions of
/// RMS(reference output). One place for the Swift parity tests and `nucleus-bench parity` (which runs the same
/// fixtures on whatever backend the binary finds, e.g. CUDA, where `swift test` cannot run).
public enum ParityBounds {
  /// float32 against diffusers / transformers: max |ours − reference| ≤ 1e-4 · RMS(reference). Float rounding of
  /// a few hundred ops stays far below this; any wrong formula lands far above it.
  public static let float32Max = 1e-4

  /// bfloat16 DiT against diffusers in bfloat16: every op rounds to 8 mantissa bits (relative 2⁻⁹ ≈ 0.2 %); along
  /// the ~60 rounded stages of the residual path such differences add up like a random walk (√60 · 0.2 % ≈ 1.5 %),
  /// and a bf16 tie in the router can send a token to a different expert. RMS(ours − reference) ≤ 3 % and
  /// max ≤ 25 % of RMS(reference).
  public static let bfloat16RMS = 0.03
  public static let bfloat16Max = 0.25

  /// Quantized transformer against the float one on the same backend (relative RMS deviation of the output).
  /// In a group of 32 roughly Gaussian weights the range spans about 4.1 σ, so one quantization step is
  /// 4.1 σ / 255 (8-bit) or 4.1 σ / 15 (4-bit). Rounding noise of a step s has RMS s / √12, and MLX's edge snapping
  /// lets some values err by up to 1.5 steps, so a quantized layer adds about 0.5 % (8-bit) relative noise to its
  /// output. The tiny DiT fixture has about 40 quantized layers; independent noise adds in quadrature, √40 ≈ 6.3,
  /// giving 3 % for 8-bit.
  public static let quantized8RelativeRMS = 0.03

  /// 4-bit against 8-bit: the same groups quantized with 15 instead of 255 levels have steps 255 / 15 = 17 times
  /// larger, and while the noise stays small against the signal the output's deviation grows in proportion.
  /// Half to twice that: 4-bit deviation / 8-bit deviation in 8.5...34. Outside it, 4-bit was not applied (ratio
  /// near 1) or computes something else than a finer grid would (a wrong scale, bias or packing).
  public static let quantized4Over8Ratio = 8.5...34.0

  /// 4-bit on its own: the 8-bit derivation with 17 times larger steps, 17 × 3 % = 51 %.
  public static let quantized4RelativeRMS = quantized8RelativeRMS * 17
}
