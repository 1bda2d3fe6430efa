import Checkpoints
import MLX
import MLXNN

/// NucleusMoEImageTransformer2DModel: packed latents [B, S, in] + timestep + prompt conditionings ->
/// the model output [B, S, patch²·out] (the negated flow velocity, as diffusers returns it).
public final class NucleusTransformer: @unchecked Sendable {
  public let config: TransformerConfig
  /// The dtype activations run in (the weights' floating dtype).
  public let dtype: DType
  let imageIn: any LinearLayer
  let timestepEmbedding: TimestepEmbedding
  let textNorm: RMSNorm
  let blocks: [NucleusTransformerBlock]
  let normOut: any LinearLayer
  let projectionOut: any LinearLayer
  private var ropeCache: [String: RotaryTables] = [:]
  private let ropeLock = Lock()

  /// Builds the model from a checkpoint's tensors (release key names). Quantized tensors (`.scales` present) use
  /// the specs recorded in the config. Every missing, unexpected or misshapen key is reported at once.
  public init(config: TransformerConfig, weights: WeightStore, dtype: DType) throws {
    try config.validate()
    self.config = config
    self.dtype = dtype
    let linearSpec = config.quantization?.linear
    let expertSpec = config.quantization?.experts
    let root = weights.scope("")
    let dim = config.innerDim
    imageIn = try loadLinear(
      root.scope("img_in"), inputDimensions: config.inChannels, outputDimensions: dim, bias: true,
      quantization: linearSpec)
    timestepEmbedding = try TimestepEmbedding(root.scope("time_text_embed"), dimension: dim, quantization: linearSpec)
    textNorm = try RMSNorm(root.scope("txt_norm"), dimensions: config.jointAttentionDim, eps: 1e-6)
    blocks = try (0..<config.numLayers).map { layer in
      try NucleusTransformerBlock(
        root.scope("transformer_blocks.\(layer)"), config: config, layer: layer, quantization: linearSpec,
        expertQuantization: expertSpec)
    }
    normOut = try loadLinear(
      root.scope("norm_out.linear"), inputDimensions: dim, outputDimensions: 2 * dim, bias: true,
      quantization: linearSpec)
    projectionOut = try loadLinear(
      root.scope("proj_out"), inputDimensions: dim, outputDimensions: config.outputChannels, bias: false,
      quantization: linearSpec)
    // The checkpoint carries a text-query norm that the model never uses (there are no text queries).
    weights.ignore { $0.hasSuffix("attn.norm_added_q.weight") }
    try weights.finish()
  }

  /// What to quantize at load: every linear layer of the blocks and the stacked experts; the router, the
  /// input/output projections, the timestep MLP and the final modulation stay as they are.
  public static func quantizationPlan(linear: QuantizationSpec?, experts: QuantizationSpec?) -> QuantizationPlan {
    QuantizationPlan(linear: linear, experts: experts) { key, shape in
      guard key.hasPrefix("transformer_blocks.") else { return nil }
      if key.hasSuffix("img_mlp.gate.weight") { return nil }
      if shape.count == 3 && (key.hasSuffix("experts.gate_up_proj") || key.hasSuffix("experts.down_proj")) {
        return .experts
      }
      if shape.count == 2 && key.hasSuffix(".weight") { return .linear }
      return nil
    }
  }

  /// Prepares a prompt embedding [L, Dtxt] (mask [L] boolean or nil) for an h × w grid: txt_norm, then every
  /// block's encoder projection, text keys (normed, rotated) and values.
  public func prepareText(embedding: MLXArray, mask: MLXArray?, gridHeight h: Int, gridWidth w: Int) throws
    -> TextConditioning
  {
    let length = embedding.shape[0]
    let normalized = try textNorm(embedding.asType(dtype).reshaped(1, length, config.jointAttentionDim))
    let rope = try NucleusRoPE.text(length: length, height: h, width: w, axes: config.axesDimsRope)
    var keys: [MLXArray] = []
    var values: [MLXArray] = []
    for block in blocks {
      let (k, v) = try block.textKeysValues(normalized, rope: rope)
      keys.append(k)
      values.append(v)
    }
    return TextConditioning(
      length: length, mask: mask, keys: keys, values: values, ropeOffset: Swift.max(h / 2, w / 2))
  }

  /// One forward for a batch: `latents` [B, S, in] with S = h·w, `timesteps` [B] (σ in [0, 1]), one text
  /// conditioning per sample (made for the same grid). Returns [B, S, patch²·out].
  public func callAsFunction(
    latents: MLXArray, gridHeight h: Int, gridWidth w: Int, timesteps: MLXArray, text: [TextConditioning]
  ) throws -> MLXArray {
    let b = latents.shape[0]
    let s = latents.shape[1]
    guard text.count == b else { throw MLXError("\(text.count) text conditionings for a batch of \(b)") }
    guard text.allSatisfy({ $0.ropeOffset == Swift.max(h / 2, w / 2) }) else {
      throw MLXError("a text conditioning was prepared for another grid size")
    }
    let rope = try imageRope(height: h, width: w)
    let batch = try TextBatch(text)
    var mask: MLXArray?
    if let textMask = batch.mask {
      mask = try concatenated([MLXArray.ones([b, s], dtype: .bool), textMask], axis: 1).reshaped(b, 1, 1, -1)
    }

    var x = try imageIn(latents.asType(dtype))
    let temb = try timestepEmbedding(timesteps, dtype: dtype)
    for (index, block) in blocks.enumerated() {
      x = try block(x, temb: temb, rope: rope, textKeys: batch.keys[index], textValues: batch.values[index], mask: mask)
    }
    let modulation = try normOut(silu(temb)).expandedDimensions(axis: 1).split(parts: 2, axis: -1)
    let (scale, shift) = (modulation[0], modulation[1])
    x = try MLXFast.layerNorm(x, eps: 1e-6) * (1 + scale) + shift
    return try projectionOut(x)
  }

  private func imageRope(height: Int, width: Int) throws -> RotaryTables {
    try ropeLock.withLock {
      let key = "\(height)x\(width)"
      if let cached = ropeCache[key] { return cached }
      let tables = try NucleusRoPE.image(height: height, width: width, axes: config.axesDimsRope)
      ropeCache[key] = tables
      return tables
    }
  }
}
