import Checkpoints
import MLX
import MLXNN

/// NucleusMoEImageTransformer2DModel: packed latents [B, S, in] + timestep + prompt conditionings ->
/// the model output [B, S, patch²·out] (the negated flow velocity, as diffusers returns it).
public final class NucleusTransformer: Module, @unchecked Sendable {
  public let config: TransformerConfig
  /// The dtype activations run in (weights may be stored narrower and are cast as they are used).
  public let dtype: DType
  let imageIn: Linear
  let timestepEmbedding: TimestepEmbedding
  let textNorm: RMSNorm
  let blocks: [NucleusTransformerBlock]
  let normOut: Linear
  let projectionOut: Linear
  private var ropeCache: [String: RotaryTables] = [:]
  private let ropeLock = Lock()

  /// The model's layer tree for `config`, with no weights yet (a LoadPlan fills them). The input and output
  /// projections, the timestep MLP, the final modulation and the routers never quantize; block linears and
  /// expert stacks may.
  public init(config: TransformerConfig, dtype: DType) throws {
    try config.validate()
    self.config = config
    self.dtype = dtype
    let dim = config.innerDim
    imageIn = Linear(config.inChannels, dim, quantizable: false)
    timestepEmbedding = TimestepEmbedding(dimension: dim)
    textNorm = RMSNorm(dimensions: config.jointAttentionDim, eps: 1e-6)
    blocks = (0..<config.numLayers).map { NucleusTransformerBlock(config: config, layer: $0) }
    normOut = Linear(dim, 2 * dim, quantizable: false)
    projectionOut = Linear(dim, config.outputChannels, bias: false, quantizable: false)
  }

  public var items: [(String, ModuleItem)] {
    [
      ("img_in", .module(imageIn)), ("time_text_embed", .module(timestepEmbedding)), ("txt_norm", .module(textNorm)),
    ] + numbered("transformer_blocks", blocks) + [("norm_out.linear", .module(normOut)), ("proj_out", .module(projectionOut))]
  }

  /// Checkpoint tensors the model does not use: a text-query norm (there are no text queries).
  public static func isUnused(_ key: String) -> Bool { key.hasSuffix("attn.norm_added_q.weight") }

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
      if QuantizedKernels.evaluateLayerByLayer { try eval([k, v]) }
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
    guard text.count == b else { throw InputError("\(text.count) text conditionings for a batch of \(b)") }
    guard h > 0, w > 0, h * w == s else { throw InputError("a \(h)×\(w) grid does not hold \(s) tokens") }
    guard text.allSatisfy({ $0.ropeOffset == Swift.max(h / 2, w / 2) }) else {
      throw InputError("a text conditioning was prepared for another grid size: prepare it for \(h)×\(w)")
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
      if QuantizedKernels.evaluateLayerByLayer { try eval(x) }
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
