import Checkpoints
import MLX
import MLXNN

/// The decoder half of AutoencoderKLQwenImage for single images, as 2-D convolutions:
/// packed latents -> de-normalised latents -> post_quant_conv -> conv_in -> mid (res, attention, res) ->
/// up blocks (res × (num_res_blocks + 1), then ×2 upsampling except the last) -> norm, SiLU, conv_out -> clamp.
/// Only `decoder.*` and `post_quant_conv.*` are read; the encoder, `quant_conv` and the temporal `time_conv`s never
/// are (single images). Checkpoint layouts are fixed per layer (see `CheckpointLayout`): causal 3-D convolutions
/// keep their last temporal slice, norm scales drop their unit axes.
public final class VAEDecoder: Module, @unchecked Sendable {
  public let config: VAEConfig
  public let dtype: DType
  let postQuantConv: Conv2d
  let convIn: Conv2d
  let midResidual0, midResidual1: VAEResidualBlock
  let midAttention: VAEAttentionBlock
  let upBlocks: [VAEUpBlock]
  let normOut: ChannelRMSNorm
  let convOut: Conv2d
  let inverseStd: MLXArray
  let mean: MLXArray

  /// The decoder's layer tree for `config`, computing in `dtype` (no weights yet).
  public init(config: VAEConfig, dtype: DType) throws {
    try config.validate()
    self.config = config
    self.dtype = dtype
    let z = config.zDim
    let dims = config.decoderDims
    postQuantConv = causalConvolution(z, z, kernel: 1)
    convIn = causalConvolution(z, dims[0], kernel: 3)
    midResidual0 = VAEResidualBlock(input: dims[0], output: dims[0])
    midAttention = VAEAttentionBlock(channels: dims[0])
    midResidual1 = VAEResidualBlock(input: dims[0], output: dims[0])
    upBlocks = (0..<(dims.count - 1)).map { index in
      VAEUpBlock(
        input: index > 0 ? dims[index] / 2 : dims[index], output: dims[index + 1], residuals: config.numResBlocks + 1,
        upsample: index != config.dimMult.count - 1)
    }
    normOut = ChannelRMSNorm(channels: dims.last!, storedRank: 4)
    convOut = causalConvolution(dims.last!, config.inputChannels, kernel: 3)
    // The pipeline de-normalises as latents / (1 / std) + mean, with 1 / std rounded to the VAE dtype.
    inverseStd = try MLXArray(config.latentsStd.map { Float(1 / $0) }, [z]).asType(dtype)
    mean = try MLXArray(config.latentsMean.map(Float.init), [z]).asType(dtype)
  }

  public var items: [(String, ModuleItem)] {
    [
      ("post_quant_conv", .module(postQuantConv)), ("decoder.conv_in", .module(convIn)),
      ("decoder.mid_block.resnets.0", .module(midResidual0)), ("decoder.mid_block.attentions.0", .module(midAttention)),
      ("decoder.mid_block.resnets.1", .module(midResidual1)),
    ] + numbered("decoder.up_blocks", upBlocks) + [("decoder.norm_out", .module(normOut)), ("decoder.conv_out", .module(convOut))]
  }

  /// Keys the 2-D decoder does not read.
  public static func isUnused(_ key: String) -> Bool {
    !(key.hasPrefix("decoder.") || key.hasPrefix("post_quant_conv.")) || key.contains(".time_conv.")
  }

  /// Packed latents [B, h·w, z·4] (channel index c·4 + dy·2 + dx, as diffusers packs them) -> NHWC [B, 2h, 2w, z].
  public func unpack(_ packed: MLXArray, gridHeight h: Int, gridWidth w: Int) throws -> MLXArray {
    let b = packed.shape[0]
    let z = config.zDim
    return try packed.reshaped(b, h, w, z, 2, 2).transposed(0, 1, 4, 2, 5, 3).reshaped(b, 2 * h, 2 * w, z)
  }

  /// Packed latents -> images NHWC [B, H, W, 3] in [−1, 1], in the VAE dtype.
  public func callAsFunction(packed: MLXArray, gridHeight h: Int, gridWidth w: Int) throws -> MLXArray {
    let latents = try unpack(packed.asType(dtype), gridHeight: h, gridWidth: w)
    var x = try postQuantConv(latents / inverseStd + mean)
    x = try convIn(x)
    x = try midResidual1(midAttention(midResidual0(x)))
    for block in upBlocks {
      for residual in block.residuals {
        x = try residual(x)
        try eval(x)  // bounds the live graph: one block's temporaries at a time
      }
      if let upsample = block.upsample {
        x = try upsample(x)
        try eval(x)
      }
    }
    x = try convOut(silu(normOut(x)))
    return try clip(x, min: -1, max: 1)
  }

  /// Images in [−1, 1] -> uint8 RGB as diffusers' image processor makes them: round(clamp(x / 2 + 0.5) · 255),
  /// rounding halves to even like NumPy.
  public static func toRGB8(_ image: MLXArray) throws -> MLXArray {
    try roundHalfToEven(clip(image / 2 + 0.5, min: 0, max: 1).asType(.float32) * 255).asType(.uint8)
  }

  /// Rounds to the nearest integer, ties to even (NumPy's round).
  public static func roundHalfToEven(_ x: MLXArray) throws -> MLXArray {
    let down = try floor(x + 0.5)
    let tie = try equal(down - x, MLXArray.scalar(0.5, dtype: x.dtype))
    let odd = try notEqual(down / 2, floor(down / 2))
    return try which(logicalAnd(tie, odd), down - 1, down)
  }
}

/// One up block: residual blocks, then (except the last block) a 2× upsampler.
final class VAEUpBlock: Module {
  let residuals: [VAEResidualBlock]
  let upsample: VAEUpsample?

  init(input: Int, output: Int, residuals count: Int, upsample: Bool) {
    residuals = (0..<count).map { VAEResidualBlock(input: $0 == 0 ? input : output, output: output) }
    self.upsample = upsample ? VAEUpsample(channels: output) : nil
  }

  var items: [(String, ModuleItem)] {
    numbered("resnets", residuals) + (upsample.map { [("upsamplers.0", .module($0))] } ?? [])
  }
}
