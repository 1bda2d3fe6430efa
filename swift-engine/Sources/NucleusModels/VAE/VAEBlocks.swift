import MLX
import MLXNN

/// A 3×3 (or 1×1) causal 3-D convolution of the checkpoint applied to one frame, as a 2-D convolution.
func causalConvolution(_ input: Int, _ output: Int, kernel: Int) -> Conv2d {
  Conv2d(
    inputChannels: input, outputChannels: output, kernelSize: kernel, padding: kernel / 2,
    layout: .causalConvolution(temporalKernel: kernel))
}

/// RMS norm over the channel axis (NHWC: the last): x / max(‖x‖₂, 1e-12) · √C · γ, normalised in float32.
/// The checkpoint stores γ as [C, 1, 1, 1] (3-D blocks) or [C, 1, 1] (the attention block).
final class ChannelRMSNorm: Module {
  let gamma: Parameter
  let scale: Double

  init(channels: Int, storedRank: Int) {
    gamma = Parameter([channels], layout: .reshaped(from: [channels] + Array(repeating: 1, count: storedRank - 1)))
    scale = Double(channels).squareRoot()
  }

  var items: [(String, ModuleItem)] { [("gamma", .parameter(gamma))] }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let wide = try x.asType(.float32)
    let norm = try maximum(l2Norm(wide, axes: [-1], keepDims: true), MLXArray.scalar(1e-12))
    return try (wide / norm).asType(x.dtype) * scale * gamma.dense(as: x.dtype)
  }
}

/// shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))); the shortcut is a 1×1 conv when channels change.
final class VAEResidualBlock: Module {
  let norm1, norm2: ChannelRMSNorm
  let conv1, conv2: Conv2d
  let shortcut: Conv2d?

  init(input: Int, output: Int) {
    norm1 = ChannelRMSNorm(channels: input, storedRank: 4)
    conv1 = causalConvolution(input, output, kernel: 3)
    norm2 = ChannelRMSNorm(channels: output, storedRank: 4)
    conv2 = causalConvolution(output, output, kernel: 3)
    shortcut = input == output ? nil : causalConvolution(input, output, kernel: 1)
  }

  var items: [(String, ModuleItem)] {
    [("norm1", .module(norm1)), ("conv1", .module(conv1)), ("norm2", .module(norm2)), ("conv2", .module(conv2))]
      + (shortcut.map { [("conv_shortcut", .module($0))] } ?? [])
  }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let residual = try shortcut.map { try $0(x) } ?? x
    let h = try conv2(silu(norm2(conv1(silu(norm1(x))))))
    return try h + residual
  }
}

/// Single-head self-attention over all pixels of the image, with q, k, v from one 1×1 conv.
final class VAEAttentionBlock: Module {
  let norm: ChannelRMSNorm
  let qkv, projection: Conv2d
  let channels: Int

  init(channels: Int) {
    self.channels = channels
    norm = ChannelRMSNorm(channels: channels, storedRank: 3)
    qkv = Conv2d(inputChannels: channels, outputChannels: 3 * channels, kernelSize: 1)
    projection = Conv2d(inputChannels: channels, outputChannels: channels, kernelSize: 1)
  }

  var items: [(String, ModuleItem)] { [("norm", .module(norm)), ("to_qkv", .module(qkv)), ("proj", .module(projection))] }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let (b, h, w) = (x.shape[0], x.shape[1], x.shape[2])
    let parts = try qkv(norm(x)).reshaped(b, 1, h * w, 3 * channels).split(parts: 3, axis: -1)
    let attended = try MLXFast.scaledDotProductAttention(
      queries: parts[0], keys: parts[1], values: parts[2], scale: 1 / Float(channels).squareRoot())
    return try projection(attended.reshaped(b, h, w, channels)) + x
  }
}

/// Nearest-neighbour 2× upsampling (in float32, as diffusers does) and a 3×3 conv that halves the channels.
final class VAEUpsample: Module {
  let conv: Conv2d

  init(channels: Int) {
    conv = Conv2d(inputChannels: channels, outputChannels: channels / 2, kernelSize: 3, padding: 1)
  }

  var items: [(String, ModuleItem)] { [("resample.1", .module(conv))] }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    try conv(upsampleNearest2x(x.asType(.float32)).asType(x.dtype))
  }
}
