import Checkpoints
import MLX
import MLXNN

/// The language model of Qwen3-VL for text-only prompts, run up to the hidden state the pipeline needs
/// (hidden_states[-8] = the raw output of the 29th of 36 layers). Only the embeddings and the layers below that
/// point are loaded; the vision tower, the remaining layers, the final norm (unless asked for) and lm_head never are.
public final class Qwen3TextEncoder: @unchecked Sendable {
  public let config: TextEncoderConfig
  public let dtype: DType
  /// The deepest hidden-state entry (0...num_hidden_layers) this instance can return.
  public let depth: Int
  let embedding: Embedding
  let layers: [Qwen3DecoderLayer]
  let finalNorm: RMSNorm?

  /// Which checkpoint tensors an encoder of `depth` needs.
  public static func keyFilter(config: TextEncoderConfig, depth: Int) -> @Sendable (String) -> Bool {
    let prefix = config.keyPrefix
    let layers = config.numHiddenLayers
    return { key in
      guard key.hasPrefix(prefix) else { return false }
      let rest = key.dropFirst(prefix.count)
      if rest.hasPrefix("embed_tokens.") { return true }
      if rest.hasPrefix("norm.") { return depth == layers }
      guard rest.hasPrefix("layers.") else { return false }
      let number = rest.dropFirst("layers.".count).prefix { $0.isNumber }
      return Int(number).map { $0 < Swift.min(depth, layers) } ?? false
    }
  }

  /// Linear layers of the loaded layers may be quantized; embeddings and norms stay as they are.
  public static func quantizationPlan(_ spec: QuantizationSpec?) -> QuantizationPlan {
    QuantizationPlan(linear: spec, experts: nil) { key, shape in
      shape.count == 2 && key.contains(".layers.") && key.hasSuffix("_proj.weight") ? .linear : nil
    }
  }

  public init(config: TextEncoderConfig, weights: WeightStore, depth: Int, dtype: DType) throws {
    try config.validate()
    self.config = config
    self.dtype = dtype
    self.depth = depth
    let root = weights.scope(String(config.keyPrefix.dropLast()))
    embedding = try Embedding(root.scope("embed_tokens"), vocabularySize: config.vocabSize, dimensions: config.hiddenSize)
    layers = try (0..<Swift.min(depth, config.numHiddenLayers)).map { index in
      try Qwen3DecoderLayer(root.scope("layers.\(index)"), config: config, quantization: config.quantization?.linear)
    }
    finalNorm = depth == config.numHiddenLayers
      ? try RMSNorm(root.scope("norm"), dimensions: config.hiddenSize, eps: Float(config.rmsNormEps)) : nil
    try weights.finish()
  }

  /// Hidden state `index` (0...depth) for token ids with an optional mask (true = real token; padding at the end).
  /// As in transformers 5 for text-only input: positions 0..<L for every token (M-RoPE's three rows are equal),
  /// causal attention over the real keys.
  public func callAsFunction(tokens: [Int32], mask: [Bool]?, hiddenState index: Int) throws -> MLXArray {
    guard index <= depth else { throw MLXError("hidden state \(index) is deeper than the \(depth) loaded layers") }
    let length = tokens.count
    let real = mask ?? Array(repeating: true, count: length)
    let positions = Array(0..<length)
    var allowed = [Bool](repeating: false, count: length * length)
    for query in 0..<length {
      for key in 0...query where real[key] { allowed[query * length + key] = true }
      // A query with no real key before it (left padding) attends to itself rather than to nothing.
      if !real[0...query].contains(true) { allowed[query * length + query] = true }
    }
    let attentionMask = try MLXArray(allowed, [1, 1, length, length])
    let rotary = try TextRotary(positions: positions, headDim: config.headDim, theta: config.ropeTheta, dtype: dtype)

    var x = try embedding(MLXArray(tokens, [1, length])).asType(dtype)
    for layer in layers.prefix(Swift.min(index, layers.count)) {
      x = try layer(x, rotary: rotary, mask: attentionMask)
    }
    if index == config.numHiddenLayers, let finalNorm { x = try finalNorm(x) }
    return try x.squeezed(axes: [0])
  }
}
