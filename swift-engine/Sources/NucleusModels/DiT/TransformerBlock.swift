import MLX
import MLXNN

/// One single-stream block: modulation (scale1, gate1, scale2, gate2 — no shift), attention, then the dense or
/// MoE feed-forward; gates are clamped to [−2, 2] and passed through tanh.
final class NucleusTransformerBlock: Module {
  let modulation: Linear
  let encoderProjection: Linear
  let attention: NucleusAttention
  let dense: SwiGLUFeedForward?
  let moe: NucleusMoELayer?
  let dimension: Int

  init(config: TransformerConfig, layer: Int) {
    dimension = config.innerDim
    modulation = Linear(dimension, 4 * dimension)
    encoderProjection = Linear(config.jointAttentionDim, dimension)
    attention = NucleusAttention(config: config)
    if config.isMoE(layer: layer) {
      moe = NucleusMoELayer(config: config, layer: layer)
      dense = nil
    } else {
      dense = SwiGLUFeedForward(dimension: dimension, inner: config.denseInnerDim)
      moe = nil
    }
  }

  var items: [(String, ModuleItem)] {
    [
      ("img_mod.1", .module(modulation)), ("encoder_proj", .module(encoderProjection)), ("attn", .module(attention)),
      ("img_mlp", .module(moe.map { $0 as any Module } ?? dense!)),
    ]
  }

  /// The timestep-independent text keys/values of this block for one normalised prompt embedding [1, L, Dtxt].
  func textKeysValues(_ normalizedText: MLXArray, rope: RotaryTables) throws -> (keys: MLXArray, values: MLXArray) {
    try attention.textKeysValues(encoderProjection(normalizedText), rope: rope)
  }

  /// The four modulation vectors [B, 1, D] for `temb` [B, D]; computed once per forward.
  func modulationVectors(_ temb: MLXArray) throws -> [MLXArray] {
    try modulation(silu(temb)).expandedDimensions(axis: 1).split(parts: 4, axis: -1)
  }

  func callAsFunction(
    _ x: MLXArray, temb: MLXArray, rope: RotaryTables, textKeys: MLXArray, textValues: MLXArray, mask: MLXArray?
  ) throws -> MLXArray {
    let m = try modulationVectors(temb)
    let (scale1, scale2) = (m[0], m[2])
    let gate1 = try tanh(clip(m[1], min: -2, max: 2))
    let gate2 = try tanh(clip(m[3], min: -2, max: 2))

    let normalized1 = try MLXFast.layerNorm(x, eps: 1e-6)
    let attended = try attention(
      normalized1 * (1 + scale1), rope: rope, textKeys: textKeys, textValues: textValues, mask: mask)
    let h = try x + gate1 * attended

    let normalized2 = try MLXFast.layerNorm(h, eps: 1e-6)
    let modulated = try normalized2 * (1 + scale2)
    let feedForward: MLXArray
    if let moe {
      feedForward = try moe(modulated, normalized: normalized2, temb: temb)
    } else {
      feedForward = try dense!(modulated)
    }
    return try h + gate2 * feedForward
  }
}
