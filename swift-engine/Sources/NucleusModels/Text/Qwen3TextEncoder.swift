import Checkpoints
import MLX
import MLXNN

/// The language model of Qwen3-VL for text-only prompts, run up to the hidden state the pipeline needs
/// (hidden_states[-8] = the raw output of the 29th of 36 layers). Only the embeddings and the layers below that
/// point are loaded; the vision tower, the remaining layers, the final norm (unless asked for) and lm_head never are.
public final class Qwen3TextEncoder: Module, @unchecked Sendable {
  public let config: TextEncoderConfig
  public let dtype: DType
  /// The deepest hidden-state entry (0...num_hidden_layers) this instance can return.
  public let depth: Int
  let embedding: Embedding
  let layers: [Qwen3DecoderLayer]
  let finalNorm: RMSNorm?

  /// The layer tree of an encoder that returns hidden states up to `depth` (no weights yet). Embeddings and
  /// norms never quantize; the layers' linears may.
  public init(config: TextEncoderConfig, depth: Int, dtype: DType) throws {
    try config.validate()
    guard depth >= 0, depth <= config.numHiddenLayers else {
      throw InputError("hidden state \(depth) does not exist: the text encoder has \(config.numHiddenLayers + 1)")
    }
    self.config = config
    self.dtype = dtype
    self.depth = depth
    embedding = Embedding(vocabularySize: config.vocabSize, dimensions: config.hiddenSize)
    layers = (0..<Swift.min(depth, config.numHiddenLayers)).map { _ in Qwen3DecoderLayer(config: config) }
    finalNorm = depth == config.numHiddenLayers ? RMSNorm(dimensions: config.hiddenSize, eps: Float(config.rmsNormEps)) : nil
  }

  /// Checkpoint keys are `config.keyPrefix` + these paths.
  public var items: [(String, ModuleItem)] {
    [("embed_tokens", .module(embedding))] + numbered("layers", layers) + (finalNorm.map { [("norm", .module($0))] } ?? [])
  }

  /// The checkpoint tensors an encoder of `depth` does not read: the vision tower, lm_head, the layers after
  /// `depth` and the final norm unless it is needed.
  public static func unusedKeys(config: TextEncoderConfig, depth: Int) -> @Sendable (String) -> Bool {
    let prefix = config.keyPrefix
    let layers = config.numHiddenLayers
    return { key in
      guard key.hasPrefix(prefix) else { return true }
      let rest = key.dropFirst(prefix.count)
      if rest.hasPrefix("norm.") { return depth < layers }
      guard rest.hasPrefix("layers.") else { return false }
      let number = rest.dropFirst("layers.".count).prefix { $0.isNumber }
      return Int(number).map { $0 >= Swift.min(depth, layers) } ?? false
    }
  }

  /// Hidden state `index` (0...depth) for token ids with an optional mask (true = real token; padding at the end).
  /// As in transformers 5 for text-only input: positions 0..<L for every token (M-RoPE's three rows are equal),
  /// causal attention over the real keys.
  public func callAsFunction(tokens: [Int32], mask: [Bool]?, hiddenState index: Int) throws -> MLXArray {
    guard index <= depth else { throw InputError("hidden state \(index) is deeper than the \(depth) loaded layers") }
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
      if QuantizedKernels.evaluateLayerByLayer { try eval(x) }
    }
    if index == config.numHiddenLayers, let finalNorm { x = try finalNorm(x) }
    return try x.squeezed(axes: [0])
  }
}
