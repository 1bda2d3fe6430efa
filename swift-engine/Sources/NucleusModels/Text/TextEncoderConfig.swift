#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import Checkpoints

/// The language-model part of `text_encoder/config.json`: Qwen3-VL nests it under `text_config` (a plain Qwen3
/// checkpoint has it at the top). RoPE θ is read from `rope_parameters` (transformers 5) or `rope_theta`.
public struct TextEncoderConfig: Decodable, Sendable, Equatable {
  public var vocabSize = 151936
  public var hiddenSize = 4096
  public var intermediateSize = 12288
  public var numHiddenLayers = 36
  public var numAttentionHeads = 32
  public var numKeyValueHeads = 8
  public var headDim = 128
  public var rmsNormEps = 1e-6
  public var ropeTheta = 5_000_000.0
  public var maxPositionEmbeddings = 262_144
  /// "model.language_model." for Qwen3-VL, "model." for a text-only Qwen3 checkpoint.
  public var keyPrefix = "model.language_model."

  enum Top: String, CodingKey { case textConfig = "text_config", modelType = "model_type", quantization }

  enum Text: String, CodingKey {
    case vocabSize = "vocab_size"
    case hiddenSize = "hidden_size"
    case intermediateSize = "intermediate_size"
    case numHiddenLayers = "num_hidden_layers"
    case numAttentionHeads = "num_attention_heads"
    case numKeyValueHeads = "num_key_value_heads"
    case headDim = "head_dim"
    case rmsNormEps = "rms_norm_eps"
    case ropeTheta = "rope_theta"
    case ropeParameters = "rope_parameters"
    case maxPositionEmbeddings = "max_position_embeddings"
  }

  struct RopeParameters: Decodable { var rope_theta: Double? }

  public var quantization: QuantizationRecord?

  public init(from decoder: Decoder) throws {
    let top = try decoder.container(keyedBy: Top.self)
    quantization = try top.decodeIfPresent(QuantizationRecord.self, forKey: .quantization)
    let text: KeyedDecodingContainer<Text>
    if top.contains(.textConfig) {
      text = try top.nestedContainer(keyedBy: Text.self, forKey: .textConfig)
    } else {
      text = try decoder.container(keyedBy: Text.self)
      keyPrefix = "model."
    }
    vocabSize = try text.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
    hiddenSize = try text.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
    intermediateSize = try text.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
    numHiddenLayers = try text.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
    numAttentionHeads = try text.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
    numKeyValueHeads = try text.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numKeyValueHeads
    headDim = try text.decodeIfPresent(Int.self, forKey: .headDim) ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
    rmsNormEps = try text.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? rmsNormEps
    ropeTheta = try text.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)?.rope_theta
      ?? text.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? ropeTheta
    maxPositionEmbeddings = try text.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? maxPositionEmbeddings
  }

  /// The entry of transformers' `hidden_states` (num_hidden_layers + 1 of them: the embeddings, then each layer's
  /// output, the last one after the final norm) that Python index `index` selects, as 0...num_hidden_layers.
  public func hiddenStateIndex(_ index: Int) throws -> Int {
    try validate()
    let count = numHiddenLayers + 1
    let resolved = index < 0 ? count + index : index
    guard resolved >= 0, resolved < count else {
      throw CheckpointError(
        "hidden layer \(index) does not exist: the text encoder has \(count) hidden states (use -\(count)...\(count - 1))")
    }
    return resolved
  }

  /// Checks every size against sane bounds before anything is allocated.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw CheckpointError("text_encoder/config.json: \(message)") }
    }
    func within(_ value: Int, _ range: ClosedRange<Int>, _ name: String) throws {
      try require(range.contains(value), "\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
    }
    try within(vocabSize, 1...(1 << 22), "vocab_size")
    try within(hiddenSize, 1...65536, "hidden_size")
    try within(intermediateSize, 1...(1 << 18), "intermediate_size")
    try within(numHiddenLayers, 1...1024, "num_hidden_layers")
    try within(numAttentionHeads, 1...1024, "num_attention_heads")
    try within(numKeyValueHeads, 1...1024, "num_key_value_heads")
    try within(headDim, 2...1024, "head_dim")
    try require(numAttentionHeads % numKeyValueHeads == 0, "num_attention_heads must be a multiple of num_key_value_heads")
    try require(headDim % 2 == 0, "head_dim must be even for RoPE")
    try require(rmsNormEps.isFinite && rmsNormEps >= 0, "rms_norm_eps must be a finite number ≥ 0")
    try require(ropeTheta.isFinite && ropeTheta > 0, "rope_theta must be a positive number")
    try require(maxPositionEmbeddings > 0, "max_position_embeddings must be positive")
  }
}
