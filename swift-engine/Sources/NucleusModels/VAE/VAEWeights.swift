import Checkpoints
import MLX

/// The one place where the VAE checkpoint's names and layouts are fixed for the 2-D decoder:
/// - only `decoder.*` and `post_quant_conv.*` are kept (the encoder, `quant_conv` and the temporal `time_conv`s are
///   never used to decode single images);
/// - causal 3-D convolutions `[O, I, kt, kh, kw]` keep their last temporal slice (for the first frame the causal
///   padding is zeros, so only `[:, :, kt − 1]` touches real data) and become OHWI `[O, kh, kw, I]`;
/// - 2-D convolutions `[O, I, kh, kw]` become OHWI;
/// - RMS-norm `gamma` `[C, 1, 1(, 1)]` becomes `[C]`.
public enum VAEWeights {
  public static func isDecoderKey(_ key: String) -> Bool {
    (key.hasPrefix("decoder.") || key.hasPrefix("post_quant_conv.")) && !key.contains(".time_conv.")
  }

  static func sanitize(_ arrays: [String: MLXArray]) throws -> [String: MLXArray] {
    var result: [String: MLXArray] = [:]
    for (key, array) in arrays where isDecoderKey(key) {
      if key.hasSuffix(".gamma") {
        result[key] = try array.reshaped(-1)
      } else if key.hasSuffix(".weight") && array.ndim == 5 {
        let depth = array.shape[2]
        result[key] = try array.sliced(axis: 2, (depth - 1)..<depth).squeezed(axes: [2]).transposed(0, 2, 3, 1)
      } else if key.hasSuffix(".weight") && array.ndim == 4 {
        result[key] = try array.transposed(0, 2, 3, 1)
      } else {
        result[key] = array
      }
    }
    return result
  }
}
