import XCTest

@testable import MLX

/// Our CPU matmul/addmm (parallel single-threaded sgemm blocks) and sigmoid/silu (vectorised exp), in every
/// variant this CPU runs and in MLX's own implementation, against NumPy float64 values from
/// tools/reference/make_kernel_fixtures.py.
final class KernelOpsTests: XCTestCase {
  static let fixtures: [String: MLXArray] = {
    let path = Fixture.repoRoot.appendingPathComponent("test/fixtures/kernels/ops.safetensors").path
    return try! loadSafetensors(path: path).arrays
  }()

  static func f(_ key: String) throws -> MLXArray {
    guard let array = fixtures[key] else { throw MLXError("fixture key \(key) is missing: rerun make_kernel_fixtures.py") }
    return array
  }

  func forEveryVariant(_ body: (String) throws -> Void) throws {
    for variant in CPUKernels.supported { try CPUKernels.with(variant) { try body(variant) } }
  }

  func testProductsInEveryLayout() throws {
    let f = Self.f
    try forEveryVariant { variant in
      let w = try f("linear/w")
      try assertClose(matmul(f("linear/x"), w.transposed()), f("linear/out"), atol: 1e-4, rtol: 1e-5, "\(variant) x @ Wᵀ")
      try assertClose(
        addMM(f("linear/bias"), f("linear/x"), w.transposed()), f("linear/out_bias"), atol: 1e-4, rtol: 1e-5,
        "\(variant) bias + x @ Wᵀ")
      try assertClose(matmul(f("batched/a"), f("batched/b")), f("batched/out"), atol: 1e-4, rtol: 1e-5, "\(variant) batched")
      try assertClose(
        matmul(f("broadcast_batch/a"), f("broadcast_batch/b")), f("broadcast_batch/out"), atol: 1e-4, rtol: 1e-5,
        "\(variant) broadcast batch")
      try assertClose(
        matmul(f("transposed_left/a_t").transposed(), f("transposed_left/b")), f("transposed_left/out"), atol: 1e-4,
        rtol: 1e-5, "\(variant) transposed left")
      try assertClose(matmul(f("one_row/a"), f("one_row/b")), f("one_row/out"), atol: 1e-4, rtol: 1e-5, "\(variant) one row")
      try assertClose(
        matmul(f("one_row/a"), f("one_row/w").transposed()), f("one_row/out_w"), atol: 1e-4, rtol: 1e-5,
        "\(variant) one row @ Wᵀ")
      try assertClose(matmul(f("blocks/a"), f("blocks/b")), f("blocks/out"), atol: 1e-4, rtol: 1e-5, "\(variant) blocks")
      try assertClose(
        addMM(f("blocks/c"), f("blocks/a"), f("blocks/b"), alpha: 0.5, beta: 2), f("blocks/addmm"), atol: 1e-4,
        rtol: 1e-5, "\(variant) addmm")
      let rows = try f("broadcast_rows/row").broadcast(to: [20, 11])
      try assertClose(
        matmul(f("broadcast_rows/a"), rows), f("broadcast_rows/out"), atol: 1e-4, rtol: 1e-5, "\(variant) broadcast rows")
    }
  }

  func testSigmoidAndSiluOverTheirWholeRange() throws {
    let x = try Self.f("unary/x")
    try forEveryVariant { variant in
      try assertClose(sigmoid(x), Self.f("unary/sigmoid"), atol: 1e-6, rtol: 2e-6, "\(variant) sigmoid")
      try assertClose(silu(x), Self.f("unary/silu"), atol: 1e-6, rtol: 2e-6, "\(variant) silu")
      let grid = try Self.f("unary_views/x")
      try assertClose(silu(grid.transposed()), Self.f("unary_views/silu_transposed"), atol: 1e-6, rtol: 2e-6, "\(variant) silu of a transposed view")
      try assertClose(
        silu(grid.sliced(start: [0, 0], stop: [33, 29], strides: [1, 2])), Self.f("unary_views/silu_every_other_column"), atol: 1e-6, rtol: 2e-6,
        "\(variant) silu of a strided view")
    }
  }
}
