import XCTest

@testable import Checkpoints
@testable import MLX
@testable import NucleusModels

/// The VAE decoder against diffusers' AutoencoderKLQwenImage on a tiny random VAE (z_dim 4, non-square latents),
/// decoding exactly as NucleusMoEImagePipeline does.
final class VAEParityTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("test/fixtures/pipeline").path

  static func loadDecoder(dtype: DType = .float32) throws -> VAEDecoder {
    try VAEDecoder.load(root + "/tiny/vae", dtype: dtype, storage: dtype)
  }

  /// fp32: max |ours − diffusers| ≤ 1e-4 × RMS(diffusers' image).
  func testDecodeMatchesDiffusers() throws {
    let fixture = try loadSafetensors(path: Self.root + "/vae-decode.safetensors").arrays
    let grid = try fixture["grid"]!.asArray(Int32.self)
    let decoder = try Self.loadDecoder()
    let image = try decoder(packed: fixture["latents"]!, gridHeight: Int(grid[0]), gridWidth: Int(grid[1]))
    let expected = try fixture["image"]!.transposed(0, 2, 3, 1)  // NCHW -> NHWC
    XCTAssertEqual(image.shape, [1, Int(grid[0]) * 16, Int(grid[1]) * 16, 3])
    let error = try difference(image, expected)
    XCTAssertLessThanOrEqual(error.max, ParityBounds.float32Max * (try rms(expected)), "max error \(error.max)")
  }

  func testRGB8RoundsLikeNumPy() throws {
    // (x / 2 + 0.5) · 255 clamped: −1 → 0, 1 → 255, 0 → 127.5 → 128 (ties to even), out of range clamps.
    let rgb = try VAEDecoder.toRGB8(MLXArray([-1, 1, 0, -2, 2] as [Float], [5])).asArray(UInt8.self)
    XCTAssertEqual(rgb, [0, 255, 128, 0, 255])
    let ties = try VAEDecoder.roundHalfToEven(MLXArray([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001, 7] as [Float], [7]))
    XCTAssertEqual(try ties.asArray(Float.self), [0, 2, 2, 4, 2, 3, 7])
  }

  func testMissingOrMisshapenWeightsAreErrorsBeforeAnythingIsRead() throws {
    let folder = try ComponentFolder.open(Self.root + "/tiny/vae")
    var config = try folder.decodeConfig(VAEConfig.self)
    config.baseDim *= 2
    let model = try VAEDecoder(config: config, dtype: .float32)
    XCTAssertThrowsError(try LoadPlan(module: model, folder: folder, isUnused: VAEDecoder.isUnused)) {
      let message = "\($0)"
      XCTAssertTrue(message.contains("decoder.conv_in.weight: shape"), message)
      XCTAssertTrue(message.contains("mismatched"), message)
      XCTAssertLessThan(message.utf8.count, 2048, "short enough for any gRPC client")
    }
    XCTAssertThrowsError(try LoadPlan(module: VAEDecoder(config: folder.decodeConfig(VAEConfig.self), dtype: .float32), folder: folder)) {
      XCTAssertTrue("\($0)".contains("unexpected"), "the encoder's tensors are unexpected unless the model says it skips them: \($0)")
    }
  }
}
