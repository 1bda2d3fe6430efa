#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import Checkpoints

/// `vae/config.json` of AutoencoderKLQwenImage (the Wan-2.1 VAE). Missing keys take diffusers' class defaults.
public struct VAEConfig: Codable, Sendable, Equatable {
  public var baseDim = 96
  public var zDim = 16
  public var dimMult = [1, 2, 4, 4]
  public var numResBlocks = 2
  public var temperalDownsample = [false, true, true]
  public var inputChannels = 3
  public var latentsMean: [Double] = [
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922,
    -0.9497, 0.2503, -0.2921,
  ]
  public var latentsStd: [Double] = [
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253,
    2.8251, 1.9160,
  ]

  enum CodingKeys: String, CodingKey {
    case baseDim = "base_dim"
    case zDim = "z_dim"
    case dimMult = "dim_mult"
    case numResBlocks = "num_res_blocks"
    case temperalDownsample = "temperal_downsample"
    case inputChannels = "input_channels"
    case latentsMean = "latents_mean"
    case latentsStd = "latents_std"
  }

  public init() {}

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    baseDim = try c.decodeIfPresent(Int.self, forKey: .baseDim) ?? baseDim
    zDim = try c.decodeIfPresent(Int.self, forKey: .zDim) ?? zDim
    dimMult = try c.decodeIfPresent([Int].self, forKey: .dimMult) ?? dimMult
    numResBlocks = try c.decodeIfPresent(Int.self, forKey: .numResBlocks) ?? numResBlocks
    temperalDownsample = try c.decodeIfPresent([Bool].self, forKey: .temperalDownsample) ?? temperalDownsample
    inputChannels = try c.decodeIfPresent(Int.self, forKey: .inputChannels) ?? inputChannels
    latentsMean = try c.decodeIfPresent([Double].self, forKey: .latentsMean) ?? latentsMean
    latentsStd = try c.decodeIfPresent([Double].self, forKey: .latentsStd) ?? latentsStd
  }

  /// Pixels per latent cell: 2^len(temperal_downsample).
  public var scaleFactor: Int { 1 << temperalDownsample.count }

  /// Decoder channel ladder: base · [dim_mult.last] + base · dim_mult reversed.
  public var decoderDims: [Int] { ([dimMult.last!] + dimMult.reversed()).map { baseDim * $0 } }

  /// Checks every size against sane bounds before anything is allocated.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw CheckpointError("vae/config.json: \(message)") }
    }
    try require((1...4096).contains(baseDim), "base_dim \(baseDim) is outside 1...4096")
    try require((1...1024).contains(zDim), "z_dim \(zDim) is outside 1...1024")
    try require((0...64).contains(numResBlocks), "num_res_blocks \(numResBlocks) is outside 0...64")
    try require((1...16).contains(inputChannels), "input_channels \(inputChannels) is outside 1...16")
    try require((1...8).contains(dimMult.count) && dimMult.allSatisfy { (1...64).contains($0) },
                "dim_mult must list 1 to 8 multipliers from 1 to 64")
    try require(temperalDownsample.count == dimMult.count - 1, "temperal_downsample needs \(dimMult.count - 1) entries")
    try require(decoderDims.allSatisfy { $0 % 2 == 0 } || dimMult.count == 1, "base_dim × dim_mult must be even")
    try require(latentsMean.count == zDim && latentsStd.count == zDim, "latents_mean and latents_std need z_dim = \(zDim) entries")
    try require(latentsStd.allSatisfy { $0 != 0 && $0.isFinite } && latentsMean.allSatisfy(\.isFinite),
                "latents_std must be finite and non-zero, latents_mean finite")
  }
}
