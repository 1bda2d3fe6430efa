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
      let dense = Linear(weight: w, bias: bias)
      let quantizedLayer = try dense.quantized(groupSize: 64, bits: bits)
      let exact = try dense(x).asArray(Float.self)
      let approx = try quantizedLayer(x).asArray(Float.self)
      // bound[i, o] = Σ_k |x[i, k]| · 1.5 · |scale[o, k / 64]|
      let steps = try (abs(quantizedLayer.weight.scales) * 1.5).repeated(64, axis: 1)
      let bound = try matmul(abs(x), steps.transposed()).asArray(Float.self)
      for index in exact.indices {
        XCTAssertLessThanOrEqual(Swift.abs(exact[index] - approx[index]), bound[index] * 1.01 + 1e-4, "bits \(bits) #\(index)")
      }
      // And the quantized kernel computes exactly x @ dequantized(W)ᵀ + b (up to float32 summation order).
      let reference = try (matmul(x, dequantized(quantizedLayer.weight).transposed()) + bias).asArray(Float.self)
      for index in reference.indices { XCTAssertEqual(approx[index], reference[index], accuracy: 1e-4) }
    }
  }

  func testQuantizedExpertsMatchTheirDequantizedWeights() throws {
    let dense = try MLXRandom.normal([4, 64, 96], key: MLXRandom.key(7)) * 0.05
    let x = try MLXRandom.normal([4, 5, 64], key: MLXRandom.key(8))
    guard case .quantized(let q) = try ExpertWeights.quantize(dense, groupSize: 64, bits: 4) else { return XCTFail() }
    XCTAssertEqual(q.weight.shape, [4, 96, 64 * 4 / 32])
    let quantizedOut = try ExpertWeights.quantized(q).apply(x)
    let dequantizedStack = try dequantized(q).transposed(0, 2, 1)
    try assertClose(quantizedOut, ExpertWeights.dense(dequantizedStack).apply(x), atol: 1e-4, rtol: 1e-4, "gather_qmm")
    XCTAssertEqual(quantizedOut.shape, [4, 5, 96])
  }

  func testBadGroupSizeIsAnErrorNotACrash() throws {
    let w = try randomMatrix(8, 100, seed: 1)
    XCTAssertThrowsError(try quantized(w, groupSize: 64, bits: 4))
    XCTAssertThrowsError(try quantized(w, groupSize: 64, bits: 5))
  }

  func testQuantizedComponentSavesAndReloadsWithIdenticalOutputs() throws {
    let source = try ComponentFolder.open(Paths.tinyMLP + "/sharded")
    let plan = QuantizationPlan.byShape(
      linear: QuantizationSpec(bits: 4), experts: QuantizationSpec(bits: 8), skipping: ["layers.1"])
    let quantizedArrays = try ComponentLoader(folder: source, dtype: .float32, plan: plan).load()
    XCTAssertEqual(quantizedArrays["layers.0.weight"]?.dtype, .uint32)
    XCTAssertNotNil(quantizedArrays["layers.0.scales"])
    XCTAssertEqual(quantizedArrays["layers.1.weight"]?.dtype, .float32, "skipped by the plan")
    XCTAssertNotNil(quantizedArrays["experts.gate_up_proj.scales"])

    let folder = Paths.temporaryFolder("quantized")
    defer { _ = system("rm -rf '\(folder)'") }
    let record = QuantizationRecord(linear: plan.linear, experts: plan.experts)
    try ComponentWriter(maxShardBytes: 16_000).write(
      arrays: quantizedArrays, config: try source.config, quantization: record, fileStem: source.fileStem,
      to: folder + "/q4")
    XCTAssertThrowsError(
      try ComponentWriter().write(
        arrays: quantizedArrays, config: try source.config, quantization: record, fileStem: source.fileStem,
        to: folder + "/q4"), "an existing folder is never overwritten silently")

    let reopened = try ComponentFolder.open(folder + "/q4")
    XCTAssertGreaterThan(reopened.shards.count, 1, "sharded with an index")
    let reloader = ComponentLoader(folder: reopened)
    XCTAssertEqual(try reloader.recordedQuantization(), record)
    XCTAssertEqual(try reopened.config["in_features"], .integer(128))
    let reloaded = try reloader.load()
    XCTAssertEqual(Set(reloaded.keys), Set(quantizedArrays.keys))
    for (key, array) in quantizedArrays { XCTAssertEqual(try reloaded[key]!.bytes(), try array.bytes(), key) }

    let x = try loadSafetensors(path: Paths.tinyMLP + "/forward.safetensors").arrays["x"]!
    func layerOutput(_ arrays: [String: MLXArray]) throws -> [Float] {
      let store = WeightStore(arrays)
      let layer = try loadLinear(
        store.scope("layers.0"), inputDimensions: 128, outputDimensions: 64, bias: true, quantization: record.linear)
      XCTAssertTrue(layer is QuantizedLinear)
      return try layer(x).asArray(Float.self)
    }
    XCTAssertEqual(try layerOutput(reloaded), try layerOutput(quantizedArrays))
    XCTAssertThrowsError(try ComponentLoader(folder: reopened, plan: plan).load(), "already quantized")
  }
}
