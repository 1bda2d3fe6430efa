import Checkpoints
import MLX
import MLXNN

/// The decoder half of AutoencoderKLQwenImage for single images, as 2-D convolutions (see VAEWeights):
/// packed latents -> de-normalised latents -> post_quant_conv -> conv_in -> mid (res, attention, res) ->
/// up blocks (res × (num_res_blocks + 1), then ×2 upsampling except the last) -> norm, SiLU, conv_out -> clamp.
public final class VAEDecoder: @unchecked Sendable {
  public let config: VAEConfig
  public let dtype: DType
  let postQuantConv: Conv2d
  let convIn: Conv2d
  let midResidual0, midResidual1: VAEResidualBlock
  let midAttention: VAEAttentionBlock
  let upBlocks: [(residuals: [VAEResidualBlock], upsample: VAEUpsample?)]
  let normOut: ChannelRMSNorm
  let convOut: Conv2d
  let inverseStd: MLXArray
  let mean: MLXArray

  /// Builds the decoder from the checkpoint's tensors as stored (they are sanitised here).
  public init(config: VAEConfig, arrays: [String: MLXArray], dtype: DType) throws {
    try config.validate()
    self.config = config
    self.dtype = dtype
    let sanitized = try VAEWeights.sanitize(arrays)
    try eval(Array(sanitized.values))  // materialise the re-laid-out weights once, not on every decode
    let weights = WeightStore(sanitized, computeDType: dtype)
    let root = weights.scope("")
    let z = config.zDim
    let dims = config.decoderDims
    postQuantConv = try Conv2d(root.scope("post_quant_conv"), inputChannels: z, outputChannels: z, kernelSize: 1)
    let decoder = root.scope("decoder")
    convIn = try Conv2d(decoder.scope("conv_in"), inputChannels: z, outputChannels: dims[0], kernelSize: 3, padding: 1)
    midResidual0 = try VAEResidualBlock(decoder.scope("mid_block.resnets.0"), input: dims[0], output: dims[0])
    midAttention = try VAEAttentionBlock(decoder.scope("mid_block.attentions.0"), channels: dims[0])
    midResidual1 = try VAEResidualBlock(decoder.scope("mid_block.resnets.1"), input: dims[0], output: dims[0])

    var blocks: [(residuals: [VAEResidualBlock], upsample: VAEUpsample?)] = []
    for index in 0..<(dims.count - 1) {
      let scope = decoder.scope("up_blocks.\(index)")
      var input = index > 0 ? dims[index] / 2 : dims[index]
      let output = dims[index + 1]
      var residuals: [VAEResidualBlock] = []
      for residual in 0...config.numResBlocks {
        residuals.append(try VAEResidualBlock(scope.scope("resnets.\(residual)"), input: input, output: output))
        input = output
      }
      let upsample = index == config.dimMult.count - 1 ? nil : try VAEUpsample(scope.scope("upsamplers.0"), channels: output)
      blocks.append((residuals, upsample))
    }
    upBlocks = blocks
    normOut = try ChannelRMSNorm(decoder.scope("norm_out"), channels: dims.last!)
    convOut = try Conv2d(
      decoder.scope("conv_out"), inputChannels: dims.last!, outputChannels: config.inputChannels, kernelSize: 3, padding: 1)
    try weights.finish()

    // The pipeline de-normalises as latents / (1 / std) + mean, with 1 / std rounded to the VAE dtype.
    inverseStd = try MLXArray(config.latentsStd.map { Float(1 / $0) }, [z]).asType(dtype)
    mean = try MLXArray(config.latentsMean.map(Float.init), [z]).asType(dtype)
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
