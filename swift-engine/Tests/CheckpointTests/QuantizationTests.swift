import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN

/// Quantization bounds follow from MLX's affine scheme (mlx/backend/cpu/quantized.cpp): a group is stored as
/// bias + scale · q with q in 0...2^bits−1, where the group's larger-magnitude edge is made exact (bias = edge,
/// scale = edge / round(edge / step), step = (max − min) / (2^bits − 1)). Rounding to the nearest level errs by at
/// most scale / 2; snapping the edge can shorten the covered span at the other end by less than one step, so
/// values clipped there err by less than one more step. Hence |w − ŵ| ≤ 1.5 · |scale| per element, and a dot
/// product x · w errs by at most Σ |x_i| · 1.5 · |scale_group(i)|. The tests check those bounds (with a small
/// float32 slack), not numbers produced by our own code.
final class QuantizationTests: XCTestCase {
  private func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64) throws -> MLXArray {
    try MLXRandom.normal([rows, columns], key: MLXRandom.key(seed)) * 0.05
  }

  func testDequantizedValuesStayWithinHalfAStep() throws {
    for bits in [4, 8] {
      let w = try randomMatrix(32, 256, seed: UInt64(bits))
      let q = try quantized(w, groupSize: 64, bits: bits)
      XCTAssertEqual(q.weight.dtype, .uint32)
      XCTAssertEqual(q.weight.shape, [32, 256 * bits / 32])
      XCTAssertEqual(q.scales.shape, [32, 4])
      let error = try abs(dequantized(q) - w).asArray(Float.self)
      let scales = try q.scales.asArray(Float.self)
      for row in 0..<32 {
        for column in 0..<256 {
          let step = Swift.abs(scales[row * 4 + column / 64])
          XCTAssertLessThanOrEqual(error[row * 256 + column], step * 1.5 * 1.001 + 1e-7, "bits \(bits) [\(row), \(column)]")
        }
      }
    }
  }

  func testQuantizedLinearWithinTheDotProductBound() throws {
    for bits in [4, 8] {
      let w = try randomMatrix(48, 128, seed: 10 + UInt64(bits))
      let bias = try MLXRandom.normal([48], key: MLXRandom.key(3))
      let x = try MLXRandom.normal([5, 128], key: MLXRandom.key(4))
      let layer = Linear(128, 48)
      layer.weight.set(w)
      layer.bias!.set(bias)
      let exact = try layer(x).asArray(Float.self)
      try layer.quantize(linear: QuantizationSpec(bits: bits, groupSize: 64), experts: nil)
      guard case .quantized(let q) = layer.weight.value else { return XCTFail("not quantized") }
      let approx = try layer(x).asArray(Float.self)
      // bound[i, o] = Σ_k |x[i, k]| · 1.5 · |scale[o, k / 64]|
      let steps = try (abs(q.scales) * 1.5).repeated(64, axis: 1)
      let bound = try matmul(abs(x), steps.transposed()).asArray(Float.self)
      for index in exact.indices {
        XCTAssertLessThanOrEqual(Swift.abs(exact[index] - approx[index]), bound[index] * 1.01 + 1e-4, "bits \(bits) #\(index)")
      }
      // And the quantized kernel computes exactly x @ dequantized(W)ᵀ + b (up to float32 summation order).
      let reference = try (matmul(x, dequantized(q).transposed()) + bias).asArray(Float.self)
      for index in reference.indices { XCTAssertEqual(approx[index], reference[index], accuracy: 1e-4) }
    }
  }

  func testQuantizedExpertsMatchTheirDequantizedWeights() throws {
    let dense = try MLXRandom.normal([4, 64, 96], key: MLXRandom.key(7)) * 0.05
    let x = try MLXRandom.normal([4, 5, 64], key: MLXRandom.key(8))
    let experts = ExpertLinear(experts: 4, input: 64, output: 96)
    experts.weight.set(dense)
    try experts.quantize(linear: nil, experts: QuantizationSpec(bits: 4, groupSize: 64))
    guard case .quantized(let q) = experts.weight.value else { return XCTFail("not quantized") }
    XCTAssertEqual(q.weight.shape, [4, 96, 64 * 4 / 32])
    let quantizedOut = try experts(x)
    let reference = ExpertLinear(experts: 4, input: 64, output: 96)
    reference.weight.set(try dequantized(q).transposed(0, 2, 1))
    try assertClose(quantizedOut, reference(x), atol: 1e-4, rtol: 1e-4, "gather_qmm")
    XCTAssertEqual(quantizedOut.shape, [4, 5, 96])
  }

  /// Each bad argument on its own (the other one valid), so that each check is the one that fires.
  func testBadGroupSizeOrBitsAreErrorsNotCrashes() throws {
    XCTAssertThrowsError(try quantized(randomMatrix(8, 100, seed: 1), groupSize: 64, bits: 4)) {
      XCTAssertTrue("\($0)".contains("divisible by the quantization group size 64"), "\($0)")
    }
    // 128 columns split into whole groups of 64; 7 bits is not one of MLX's widths (2, 3, 4, 5, 6, 8).
    XCTAssertThrowsError(try quantized(randomMatrix(8, 128, seed: 1), groupSize: 64, bits: 7)) {
      XCTAssertTrue("\($0)".contains("bits 7"), "\($0)")
    }
    XCTAssertNoThrow(try quantized(randomMatrix(8, 128, seed: 1), groupSize: 64, bits: 4))
  }

  func testConvertedComponentReloadsBitForBitLikeQuantizingAtLoad() throws {
    let source = try ComponentFolder.open(Paths.tinyMLP + "/sharded")
    let choice = QuantizationChoice(linear: QuantizationSpec(bits: 4), experts: QuantizationSpec(bits: 8))
    let atLoad = try TinyMLP.load(Paths.tinyMLP + "/sharded", quantize: choice)
    XCTAssertTrue(atLoad.layer0.weight.isQuantized)
    XCTAssertFalse(atLoad.layer1.weight.isQuantized, "the layer refuses quantization")
    XCTAssertFalse(atLoad.norm.weight.isQuantized)
    XCTAssertTrue(atLoad.experts!.weight.isQuantized)

    let folder = Paths.temporaryFolder("quantized")
    defer { _ = system("rm -rf '\(folder)'") }
    let staging = try FolderStaging(target: folder + "/q4", overwrite: false)
    var converter = ComponentConverter()
    converter.maxShardBytes = 16_000
    converter.sliceBytes = 1000
    try converter.convert(LoadPlan(module: TinyMLP(), folder: source, quantize: choice), to: staging.path)
    try staging.commit()
    XCTAssertThrowsError(try FolderStaging(target: folder + "/q4", overwrite: false), "an existing folder is never overwritten silently")

    let reopened = try ComponentFolder.open(folder + "/q4")
    XCTAssertGreaterThan(reopened.shards.count, 1, "sharded with an index")
    XCTAssertEqual(try reopened.recordedQuantization(), QuantizationRecord(linear: choice.linear, experts: choice.experts))
    XCTAssertEqual(try reopened.config["in_features"], .integer(128))
    XCTAssertEqual(reopened.location(of: "layers.0.weight")?.dtype, .uint32)
    XCTAssertEqual(reopened.location(of: "layers.0.scales")?.dtype, .bfloat16, "scales keep the checkpoint's dtype")
    XCTAssertEqual(reopened.location(of: "layers.1.weight")?.dtype, .bfloat16)

    let reloaded = try TinyMLP.load(folder + "/q4")
    for ((path, a), (_, b)) in zip(atLoad.parameters(), reloaded.parameters()) {
      XCTAssertEqual(a.isQuantized, b.isQuantized, path)
      for (x, y) in zip(a.arrays, b.arrays) { XCTAssertEqual(try x.bytes(), try y.bytes(), path) }
    }
    let x = try loadSafetensors(path: Paths.tinyMLP + "/forward.safetensors").arrays["x"]!
    XCTAssertEqual(try reloaded.layer0(x).bytes(), try atLoad.layer0(x).bytes())
    XCTAssertThrowsError(try TinyMLP.load(folder + "/q4", quantize: choice)) {
      XCTAssertTrue("\($0)".contains("already quantized"), "\($0)")
    }
  }
}
