import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// The VAE and the text encoder computing in bfloat16 (what GPUs run) against diffusers / transformers computing in
/// bfloat16 from the same bf16 checkpoint (tools/reference/make_wide_fixtures.py). The bound is relative to the
/// bf16 floor the fixture records, RMS(reference bf16 − reference float32): bfloat16 rounds every op to 8 bits, so
/// two implementations that round at different places differ by about as much as either differs from float32 —
/// independent errors of the same size add to √2 ≈ 1.41 times the floor. Ours may be at most 1.5 × the floor from
/// the reference's bf16 result, and at most 1.5 × the floor from its float32 result.
/// Stored in bf16 and computed in float32 (the CPU engine's mode), the same weights must give the float32 result.
final class BFloat16ComponentTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("test/fixtures/wide").path

  private func floor(_ file: String, _ key: String) throws -> Double {
    let contents = try loadSafetensors(path: "\(Self.root)/\(file)")
    return try XCTUnwrap(contents.metadata[key].flatMap(Double.init), "\(file) records no \(key)")
  }

  private func check(_ ours: MLXArray, bf16 reference: MLXArray, fp32 float: MLXArray, floor: Double, _ what: String) throws {
    let toBF16 = try difference(ours, reference).rms
    let toFP32 = try difference(ours, float).rms
    print("\(what): RMS to the bf16 reference \(toBF16), to the float32 one \(toFP32), floor \(floor): ratios \(toBF16 / floor), \(toFP32 / floor)")
    XCTAssertGreaterThan(floor, 0)
    XCTAssertLessThanOrEqual(toBF16, 1.5 * floor, "\(what): \(toBF16) from the bf16 reference, floor \(floor)")
    XCTAssertLessThanOrEqual(toFP32, 1.5 * floor, "\(what): \(toFP32) from the float32 reference, floor \(floor)")
  }

  func testVAEDecodeInBFloat16() throws {
    let fixture = try loadSafetensors(path: Self.root + "/vae.safetensors").arrays
    let grid = try fixture["grid"]!.asArray(Int32.self)
    let (h, w) = (Int(grid[0]), Int(grid[1]))
    let fp32 = try fixture["image_fp32"]!.transposed(0, 2, 3, 1)
    let bf16 = try fixture["image_bf16"]!.transposed(0, 2, 3, 1)

    let decoder = try VAEDecoder.load(Self.root + "/model/vae", dtype: .bfloat16, storage: .bfloat16)
    let image = try decoder(packed: fixture["latents"]!, gridHeight: h, gridWidth: w)
    XCTAssertEqual(image.dtype, .bfloat16)
    try check(image, bf16: bf16, fp32: fp32, floor: floor("vae.safetensors", "floor_image_rms"), "VAE")

    let cpuMode = try VAEDecoder.load(Self.root + "/model/vae", dtype: .float32, storage: .bfloat16)
    let float = try cpuMode(packed: fixture["latents"]!, gridHeight: h, gridWidth: w)
    XCTAssertLessThanOrEqual(try difference(float, fp32).max, ParityBounds.float32Max * (try rms(fp32)))
  }

  func testTextEncoderInBFloat16() throws {
    let fixture = try loadSafetensors(path: Self.root + "/text.safetensors").arrays
    let ids = try fixture["input_ids"]!.asArray(Int32.self)
    let mask = try fixture["attention_mask"]!.asArray(Int32.self).map { $0 != 0 }
    let folder = try ComponentFolder.open(Self.root + "/model/text_encoder")
    let config = try folder.decodeConfig(TextEncoderConfig.self)
    let depth = try config.hiddenStateIndex(-8)
    func encode(_ dtype: DType) throws -> MLXArray {
      let (model, plan) = try Qwen3TextEncoder.planned(folder, depth: depth, dtype: dtype, storage: .bfloat16)
      try ModelLoader(plan).load()
      return try model(tokens: ids, mask: mask, hiddenState: depth)
    }
    let fp32 = fixture["encoder_hidden_-8_fp32"]!
    let hidden = try encode(.bfloat16)
    XCTAssertEqual(hidden.dtype, .bfloat16)
    try check(hidden, bf16: fixture["encoder_hidden_-8_bf16"]!, fp32: fp32, floor: floor("text.safetensors", "floor_encoder_rms"), "text encoder")
    XCTAssertLessThanOrEqual(try difference(encode(.float32), fp32).max, ParityBounds.float32Max * (try rms(fp32)))
  }
}
