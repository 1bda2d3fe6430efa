#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import Checkpoints

/// `transformer/config.json` of NucleusMoEImageTransformer2DModel. Missing keys take diffusers' class defaults;
/// every size the model uses comes from here.
public struct TransformerConfig: Codable, Sendable, Equatable {
  public var patchSize = 2
  public var inChannels = 64
  public var outChannels: Int?
  public var numLayers = 24
  public var attentionHeadDim = 128
  public var numAttentionHeads = 16
  public var numKeyValueHeads: Int?
  public var jointAttentionDim = 3584
  public var axesDimsRope = [16, 56, 56]
  public var mlpRatio = 4.0
  public var moeEnabled = true
  public var denseMoeStrategy = "leave_first_three_and_last_block_dense"
  public var numExperts = 128
  public var moeIntermediateDim = 1344
  public var capacityFactors: [Double] = []
  public var useSigmoid = false
  public var routeScale = 2.5
  /// Present in folders that were saved quantized.
  public var quantization: QuantizationRecord?

  enum CodingKeys: String, CodingKey {
    case patchSize = "patch_size"
    case inChannels = "in_channels"
    case outChannels = "out_channels"
    case numLayers = "num_layers"
    case attentionHeadDim = "attention_head_dim"
    case numAttentionHeads = "num_attention_heads"
    case numKeyValueHeads = "num_key_value_heads"
    case jointAttentionDim = "joint_attention_dim"
    case axesDimsRope = "axes_dims_rope"
    case mlpRatio = "mlp_ratio"
    case moeEnabled = "moe_enabled"
    case denseMoeStrategy = "dense_moe_strategy"
    case numExperts = "num_experts"
    case moeIntermediateDim = "moe_intermediate_dim"
    case capacityFactors = "capacity_factors"
    case useSigmoid = "use_sigmoid"
    case routeScale = "route_scale"
    case quantization
  }

  public init() {}

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
      try c.decodeIfPresent(T.self, forKey: key) ?? fallback
    }
    patchSize = try value(.patchSize, patchSize)
    inChannels = try value(.inChannels, inChannels)
    outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels)
    numLayers = try value(.numLayers, numLayers)
    attentionHeadDim = try value(.attentionHeadDim, attentionHeadDim)
    numAttentionHeads = try value(.numAttentionHeads, numAttentionHeads)
    numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads)
    jointAttentionDim = try value(.jointAttentionDim, jointAttentionDim)
    axesDimsRope = try value(.axesDimsRope, axesDimsRope)
    mlpRatio = try value(.mlpRatio, mlpRatio)
    moeEnabled = try value(.moeEnabled, moeEnabled)
    denseMoeStrategy = try value(.denseMoeStrategy, denseMoeStrategy)
    numExperts = try value(.numExperts, numExperts)
    moeIntermediateDim = try value(.moeIntermediateDim, moeIntermediateDim)
    // diffusers accepts one factor for every layer or a list with one per layer. An absurd layer count is left for
    // validate() to refuse, rather than allocated here.
    let layers = Self.layerRange.contains(numLayers) ? numLayers : 0
    if let list = try? c.decodeIfPresent([Double].self, forKey: .capacityFactors) {
      capacityFactors = list
    } else if let single = try c.decodeIfPresent(Double.self, forKey: .capacityFactors) {
      capacityFactors = Array(repeating: single, count: layers)
    } else {
      capacityFactors = Array(repeating: 8.0, count: layers)
    }
    useSigmoid = try value(.useSigmoid, useSigmoid)
    routeScale = try value(.routeScale, routeScale)
    quantization = try c.decodeIfPresent(QuantizationRecord.self, forKey: .quantization)
  }

  /// Model width: heads × head dimension.
  public var innerDim: Int { numAttentionHeads * attentionHeadDim }
  public var keyValueHeads: Int { numKeyValueHeads ?? numAttentionHeads }
  /// Width of a packed latent token going in, and of the prediction coming out.
  public var outputChannels: Int { patchSize * patchSize * (outChannels ?? inChannels) }
  /// Inner width of the dense SwiGLU blocks (diffusers rounds 2/3 of mlp_ratio × dim down to a multiple of 128).
  public var denseInnerDim: Int { Int(Double(innerDim) * mlpRatio * 2 / 3) / 128 * 128 }

  /// Whether block `layer` has the MoE feed-forward (diffusers' `_is_moe_layer`; unknown strategies mean MoE).
  public func isMoE(layer: Int) -> Bool {
    guard moeEnabled else { return false }
    switch denseMoeStrategy {
    case "leave_first_three_and_last_block_dense": return layer >= 3 && layer < numLayers - 1
    case "leave_first_three_blocks_dense": return layer >= 3
    case "leave_first_block_dense": return layer >= 1
    case "all_moe": return true
    case "all_dense": return false
    default: return true
    }
  }

  /// Tokens each expert takes in block `layer` for `tokens` image tokens: max(1, ceil(factor · S / E)).
  public func capacity(layer: Int, tokens: Int) -> Int {
    Swift.max(1, Int((capacityFactors[layer] * Double(tokens) / Double(numExperts)).rounded(.up)))
  }

  static let layerRange = 1...1024

  /// Checks every size against sane bounds (with overflow-safe arithmetic) and the relations the model relies on,
  /// before anything is allocated; a bad config is an error naming the field.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw CheckpointError("transformer/config.json: \(message)") }
    }
    func within(_ value: Int, _ range: ClosedRange<Int>, _ name: String) throws {
      try require(range.contains(value), "\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
    }
    try within(patchSize, 1...16, "patch_size")
    try within(inChannels, 1...4096, "in_channels")
    if let outChannels { try within(outChannels, 1...4096, "out_channels") }
    try within(numLayers, Self.layerRange, "num_layers")
    try within(attentionHeadDim, 2...1024, "attention_head_dim")
    try within(numAttentionHeads, 1...1024, "num_attention_heads")
    try within(keyValueHeads, 1...1024, "num_key_value_heads")
    try within(jointAttentionDim, 1...65536, "joint_attention_dim")
    try require(innerDim <= 65536, "num_attention_heads × attention_head_dim = \(innerDim) is more than 65536")
    try require(attentionHeadDim % 2 == 0, "attention_head_dim \(attentionHeadDim) must be even for RoPE")
    try require(axesDimsRope.count == 3 && axesDimsRope.allSatisfy { $0 > 0 && $0 <= 1024 && $0 % 2 == 0 },
                "axes_dims_rope \(axesDimsRope) must be three positive even numbers")
    try require(axesDimsRope.reduce(0, +) == attentionHeadDim,
                "axes_dims_rope \(axesDimsRope) must sum to attention_head_dim \(attentionHeadDim)")
    try require(numAttentionHeads % keyValueHeads == 0,
                "num_attention_heads \(numAttentionHeads) must be a multiple of num_key_value_heads \(keyValueHeads)")
    try require(mlpRatio.isFinite && mlpRatio > 0 && mlpRatio <= 64, "mlp_ratio \(mlpRatio) must be in (0, 64]")
    try require(denseInnerDim > 0, "mlp_ratio \(mlpRatio) gives no dense feed-forward width")
    try require(routeScale.isFinite, "route_scale must be a finite number")
    let moeLayers = (0..<numLayers).filter(isMoE)
    if !moeLayers.isEmpty {
      try within(numExperts, 1...4096, "num_experts")
      try within(moeIntermediateDim, 1...65536, "moe_intermediate_dim")
    }
    try require(capacityFactors.count >= numLayers,
                "capacity_factors has \(capacityFactors.count) entries for \(numLayers) layers")
    for layer in moeLayers {
      let factor = capacityFactors[layer]
      try require(factor.isFinite && factor > 0 && factor <= Double(numExperts),
                  "capacity_factors[\(layer)] = \(factor) must be in (0, num_experts] for an MoE layer")
    }
    try require(parameterEstimate != nil && parameterEstimate! <= 1_000_000_000_000,
                "the sizes describe more than 10¹² parameters")
  }

  /// Parameters the config describes (nil on overflow), from the sizes alone.
  public var parameterEstimate: Int? {
    let d = innerDim, kv = keyValueHeads * attentionHeadDim
    var total = inChannels * d + d + 2 * (d * 4 * d) + 5 * d + jointAttentionDim + 2 * d * 2 * d + 2 * d + d * outputChannels
    let common = 4 * d * d + 4 * d + jointAttentionDim * d + d + 2 * d * d + 4 * kv * d + 4 * attentionHeadDim
    for layer in 0..<numLayers {
      let feedForward = isMoE(layer: layer)
        ? Checked.product([numExperts, 2 * d]).flatMap { router in
          Checked.product([numExperts, d, 3 * moeIntermediateDim]).map { router + $0 + 3 * d * moeIntermediateDim }
        }
        : Checked.product([3, d, denseInnerDim])
      guard let feedForward, let sum = Checked.add(total, common + feedForward) else { return nil }
      total = sum
    }
    return total
  }
}
