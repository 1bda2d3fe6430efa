import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// A full-width two-block transformer (one dense block, one MoE block, the release's sizes) in the release's key
/// layout (model-spec §3.2, typed in here independently of the model code), with hashed bf16 weights (HashedWeights:
/// the same numbers tools/reference/make_dit_fixtures.py --full-width-reference gave diffusers), loaded through the
/// normal path and compared with diffusers' output.
final class FullWidthTests: XCTestCase {
  static let dim = 2048, text = 4096, kv = 512, head = 128, experts = 64, inner = 1344, dense = 5376

  /// Keys and shapes from the spec's table, for block 0 dense and block 1 MoE.
  static func releaseLayout() -> [(String, [Int])] {
    var keys: [(String, [Int])] = [
      ("img_in.weight", [dim, 64]), ("img_in.bias", [dim]),
      ("time_text_embed.timestep_embedder.linear_1.weight", [8192, dim]),
      ("time_text_embed.timestep_embedder.linear_1.bias", [8192]),
      ("time_text_embed.timestep_embedder.linear_2.weight", [dim, 8192]),
      ("time_text_embed.timestep_embedder.linear_2.bias", [dim]),
      ("time_text_embed.norm.weight", [dim]), ("txt_norm.weight", [text]),
      ("norm_out.linear.weight", [4096, dim]), ("norm_out.linear.bias", [4096]), ("proj_out.weight", [64, dim]),
    ]
    for block in 0..<2 {
      let p = "transformer_blocks.\(block)."
      keys += [
        (p + "img_mod.1.weight", [8192, dim]), (p + "img_mod.1.bias", [8192]),
        (p + "encoder_proj.weight", [dim, text]), (p + "encoder_proj.bias", [dim]),
        (p + "attn.to_q.weight", [dim, dim]), (p + "attn.to_k.weight", [kv, dim]), (p + "attn.to_v.weight", [kv, dim]),
        (p + "attn.add_k_proj.weight", [kv, dim]), (p + "attn.add_v_proj.weight", [kv, dim]),
        (p + "attn.to_out.0.weight", [dim, dim]), (p + "attn.norm_q.weight", [head]), (p + "attn.norm_k.weight", [head]),
        (p + "attn.norm_added_k.weight", [head]), (p + "attn.norm_added_q.weight", [head]),
      ]
      if block == 0 {
        keys += [(p + "img_mlp.net.0.proj.weight", [2 * dense, dim]), (p + "img_mlp.net.2.weight", [dim, dense])]
      } else {
        keys += [
          (p + "img_mlp.gate.weight", [experts, 2 * dim]),
          (p + "img_mlp.experts.gate_up_proj", [experts, dim, 2 * inner]),
          (p + "img_mlp.experts.down_proj", [experts, inner, dim]),
          (p + "img_mlp.shared_expert.net.0.proj.weight", [2 * inner, dim]),
          (p + "img_mlp.shared_expert.net.2.weight", [dim, inner]),
        ]
      }
    }
    return keys
  }

  /// Stored in bf16 and computed in float32 (what the engine does on the CPU): max |ours − diffusers| ≤ 1e-4 ×
  /// RMS(diffusers' float32 output from the same bf16 weights).
  func testMatchesDiffusersWithMemoryMatchingTheParameterCount() throws {
    let folder = "/tmp/nucleus-swift-test-\(getpid())-full-width"
    defer { try? FolderStaging.removeTree(folder) }
    let layout = Self.releaseLayout()
    let parameters = layout.reduce(0) { $0 + $1.1.reduce(1, *) }
    // top level 42,227,712 + 2 × 37,759,488 common + 33,030,144 dense + 537,001,984 MoE (spec §3.2)
    XCTAssertEqual(parameters, 42_227_712 + 2 * 37_759_488 + 33_030_144 + 537_001_984)

    let config: JSONValue = .object([
      "_class_name": .string("NucleusMoEImageTransformer2DModel"), "num_layers": .integer(2),
      "attention_head_dim": .integer(128), "num_attention_heads": .integer(16), "num_key_value_heads": .integer(4),
      "joint_attention_dim": .integer(4096), "axes_dims_rope": .array([.integer(16), .integer(56), .integer(56)]),
      "in_channels": .integer(64), "out_channels": .integer(16), "patch_size": .integer(2), "num_experts": .integer(64),
      "moe_intermediate_dim": .integer(1344), "dense_moe_strategy": .string("leave_first_block_dense"),
      "capacity_factors": .array([.number(0), .number(2)]), "route_scale": .number(2.5), "mlp_ratio": .number(4),
    ])
    try HashedWeights.writeComponent(
      layout: layout, config: config, fileStem: "diffusion_pytorch_model", to: folder, maxShardBytes: 400 << 20)
    try Memory.clearCache()

    let before = try Memory.snapshot().activeBytes
    let model = try NucleusTransformer.load(folder, dtype: .float32, storage: .bfloat16)
    let loadedBytes = Int(try Memory.snapshot().activeBytes) - Int(before)
    XCTAssertEqual(Double(loadedBytes), Double(parameters * 2), accuracy: Double(parameters * 2) * 0.02,
                   "resident bytes \(loadedBytes) for \(parameters) bf16 parameters")

    let fixture = try loadSafetensors(path: DiTCase.root + "/full-width.safetensors").arrays
    let conditioning = try model.prepareText(embedding: fixture["text"]!, mask: nil, gridHeight: 8, gridWidth: 8)
    let output = try model(
      latents: fixture["latents"]!, gridHeight: 8, gridWidth: 8, timesteps: fixture["timestep"]!, text: [conditioning])
    let expected = fixture["output"]!
    XCTAssertEqual(output.shape, [1, 64, 64])
    let error = try difference(output, expected)
    XCTAssertLessThanOrEqual(error.max, ParityBounds.float32Max * (try rms(expected)), "max error \(error.max)")
  }

  /// The C fill loop computes the documented formula.
  func testHashedWeightsFollowTheirFormula() {
    let key = "transformer_blocks.1.img_mlp.experts.down_proj"
    let shape = [64, 1344, 2048]
    let bits = HashedWeights.bfloat16Bits(key, shape: shape, range: 1000..<1100)
    for (offset, value) in bits.enumerated() {
      let q = HashedWeights.level(UInt32(1000 + offset), seed: HashedWeights.seed(key))
      XCTAssertEqual(Float(bitPattern: UInt32(value) << 16), Float(q) / 4096, "element \(1000 + offset)")  // fan-in 1344: 2^-(6+⌈5.2⌉)
    }
    XCTAssertEqual(HashedWeights.seed("a"), 0xE40C_292C)  // FNV-1a's published value for "a"
    let norm = HashedWeights.bfloat16Bits("txt_norm.weight", shape: [4096], range: 0..<64)
    XCTAssertTrue(norm.allSatisfy { (0.9375...1.0546875).contains(Float(bitPattern: UInt32($0) << 16)) })
  }
}
