import MLX
import MLXNN

/// RMS norm over the channel axis (NHWC: the last): x / max(‖x‖₂, 1e-12) · √C · γ, normalised in float32.
final class ChannelRMSNorm {
  let gamma: MLXArray
  let scale: Double

  init(_ scope: WeightScope, channels: Int) throws {
    gamma = try scope.take("gamma", shape: [channels])
    scale = Double(channels).squareRoot()
  }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let wide = try x.asType(.float32)
    let norm = try maximum(l2Norm(wide, axes: [-1], keepDims: true), MLXArray.scalar(1e-12))
    return try (wide / norm).asType(x.dtype) * scale * gamma
  }
}

/// shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))); the shortcut is a 1×1 conv when channels change.
final class VAEResidualBlock {
  let norm1, norm2: ChannelRMSNorm
  let conv1, conv2: Conv2d
  let shortcut: Conv2d?

  init(_ scope: WeightScope, input: Int, output: Int) throws {
    norm1 = try ChannelRMSNorm(scope.scope("norm1"), channels: input)
    conv1 = try Conv2d(scope.scope("conv1"), inputChannels: input, outputChannels: output, kernelSize: 3, padding: 1)
    norm2 = try ChannelRMSNorm(scope.scope("norm2"), channels: output)
    conv2 = try Conv2d(scope.scope("conv2"), inputChannels: output, outputChannels: output, kernelSize: 3, padding: 1)
    shortcut = input == output
      ? nil : try Conv2d(scope.scope("conv_shortcut"), inputChannels: input, outputChannels: output, kernelSize: 1)
  }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let residual = try shortcut.map { try $0(x) } ?? x
    let h = try conv2(silu(norm2(conv1(silu(norm1(x))))))
    return try h + residual
  }
}

/// Single-head self-attention over all pixels of the image, with q, k, v from one 1×1 conv.
final class VAEAttentionBlock {
  let norm: ChannelRMSNorm
  let qkv, projection: Conv2d
  let channels: Int

  init(_ scope: WeightScope, channels: Int) throws {
    self.channels = channels
    norm = try ChannelRMSNorm(scope.scope("norm"), channels: channels)
    qkv = try Conv2d(scope.scope("to_qkv"), inputChannels: channels, outputChannels: 3 * channels, kernelSize: 1)
    projection = try Conv2d(scope.scope("proj"), inputChannels: channels, outputChannels: channels, kernelSize: 1)
  }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let (b, h, w) = (x.shape[0], x.shape[1], x.shape[2])
    let parts = try qkv(norm(x)).reshaped(b, 1, h * w, 3 * channels).split(parts: 3, axis: -1)
    let attended = try MLXFast.scaledDotProductAttention(
      queries: parts[0], keys: parts[1], values: parts[2], scale: 1 / Float(channels).squareRoot())
    return try projection(attended.reshaped(b, h, w, channels)) + x
  }
}

/// Nearest-neighbour 2× upsampling (in float32, as diffusers does) and a 3×3 conv that halves the channels.
final class VAEUpsample {
  let conv: Conv2d

  init(_ scope: WeightScope, channels: Int) throws {
    conv = try Conv2d(scope.scope("resample.1"), inputChannels: channels, outputChannels: channels / 2, kernelSize: 3, padding: 1)
  }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    try conv(upsampleNearest2x(x.asType(.float32)).asType(x.dtype))
  }
}
