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

  /// True during the poisoned pass before each variant's checks: float inputs are NaN, MLX's own operations compute
  /// (they write every element) and nothing is compared. The pass leaves NaN in the buffers MLX's allocator hands
  /// out again for the real pass, so an output element a kernel forgets to write shows up as NaN instead of
  /// silently keeping a correct value from an earlier computation.
  static var poisoning = false

  static func f(_ key: String) throws -> MLXArray {
    guard let array = fixtures[key] else { throw MLXError("fixture key \(key) is missing: rerun make_kernel_fixtures.py") }
    return poisoning && array.dtype == .float32 ? try array * Double.nan : array
  }

  func forEveryVariant(_ body: (String) throws -> Void) throws {
    for variant in CPUKernels.supported {
      try CPUKernels.with("mlx") {
        Self.poisoning = true
        defer { Self.poisoning = false }
        try body(variant)
      }
      try CPUKernels.with(variant) { try body(variant) }
    }
  }

  func check(
    _ actual: MLXArray, _ expected: MLXArray, atol: Float = 1e-5, rtol: Float = 1e-5, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    if Self.poisoning { return try eval(actual) }
    try assertClose(actual, expected, atol: atol, rtol: rtol, message, file: file, line: line)
  }

  func testProductsInEveryLayout() throws {
    try forEveryVariant { try checkProducts($0) }
  }

  /// Every sgemm provider the matmul and conv2d kernels can call gives the float64 values; setup installs oneMKL
  /// on x86-64 Linux (unless NUCLEUS_CPU_BLAS leaves it out), so its absence there is a failure, not a skip.
  func testEverySgemmProvider() throws {
    #if os(Linux) && arch(x86_64)
    if ProcessInfo.processInfo.environment["NUCLEUS_CPU_BLAS"] == nil {
      XCTAssertTrue(CPUKernels.mklAvailable, "oneMKL is missing beside the BLAS library: run npm run setup")
    }
    #endif
    for provider in ["openblas"] + (CPUKernels.mklAvailable ? ["mkl"] : []) {
      try CPUKernels.withSgemm(provider) {
        XCTAssertEqual(CPUKernels.sgemm == "reference" ? "openblas" : CPUKernels.sgemm, provider)
        try CPUKernels.with(CPUKernels.best) {
          try checkProducts("\(CPUKernels.best) with \(provider)")
          try checkConvolutions("\(CPUKernels.best) with \(provider)")
        }
      }
    }
    XCTAssertThrowsError(try CPUKernels.selectSgemm("atlas")) {
      XCTAssertTrue("\($0)".contains("use auto, mkl or openblas"), "\($0)")
    }
  }

  func checkProducts(_ variant: String) throws {
    let f = Self.f
    let w = try f("linear/w")
    try check(matmul(f("linear/x"), w.transposed()), f("linear/out"), atol: 1e-4, rtol: 1e-5, "\(variant) x @ Wᵀ")
    try check(
      addMM(f("linear/bias"), f("linear/x"), w.transposed()), f("linear/out_bias"), atol: 1e-4, rtol: 1e-5,
      "\(variant) bias + x @ Wᵀ")
    try check(matmul(f("batched/a"), f("batched/b")), f("batched/out"), atol: 1e-4, rtol: 1e-5, "\(variant) batched")
    try check(
      matmul(f("broadcast_batch/a"), f("broadcast_batch/b")), f("broadcast_batch/out"), atol: 1e-4, rtol: 1e-5,
      "\(variant) broadcast batch")
    try check(
      matmul(f("transposed_left/a_t").transposed(), f("transposed_left/b")), f("transposed_left/out"), atol: 1e-4,
      rtol: 1e-5, "\(variant) transposed left")
    try check(matmul(f("one_row/a"), f("one_row/b")), f("one_row/out"), atol: 1e-4, rtol: 1e-5, "\(variant) one row")
    try check(
      matmul(f("one_row/a"), f("one_row/w").transposed()), f("one_row/out_w"), atol: 1e-4, rtol: 1e-5,
      "\(variant) one row @ Wᵀ")
    try check(matmul(f("blocks/a"), f("blocks/b")), f("blocks/out"), atol: 1e-4, rtol: 1e-5, "\(variant) blocks")
    try check(
      addMM(f("blocks/c"), f("blocks/a"), f("blocks/b"), alpha: 0.5, beta: 2), f("blocks/addmm"), atol: 1e-4,
      rtol: 1e-5, "\(variant) addmm")
    try check(
      addMM(f("few_rows/c"), f("few_rows/a"), f("few_rows/b"), alpha: -0.25, beta: 1.5), f("few_rows/addmm"), atol: 1e-4,
      rtol: 1e-5, "\(variant) addmm with few rows")
    try check(matmul(f("few_rows/two"), f("few_rows/b")), f("few_rows/two_out"), atol: 1e-4, rtol: 1e-5, "\(variant) two rows")
    let rows = try f("broadcast_rows/row").broadcast(to: [20, 11])
    try check(
      matmul(f("broadcast_rows/a"), rows), f("broadcast_rows/out"), atol: 1e-4, rtol: 1e-5, "\(variant) broadcast rows")
  }

  func testSigmoidAndSiluOverTheirWholeRange() throws {
    let x = try Self.f("unary/x")
    try forEveryVariant { variant in
      try check(sigmoid(x), Self.f("unary/sigmoid"), atol: 1e-6, rtol: 2e-6, "\(variant) sigmoid")
      try check(silu(x), Self.f("unary/silu"), atol: 1e-6, rtol: 2e-6, "\(variant) silu")
      let grid = try Self.f("unary_views/x")
      try check(silu(grid.transposed()), Self.f("unary_views/silu_transposed"), atol: 1e-6, rtol: 2e-6, "\(variant) silu of a transposed view")
      try check(
        silu(grid.sliced(start: [0, 0], stop: [33, 29], strides: [1, 2])), Self.f("unary_views/silu_every_other_column"), atol: 1e-6, rtol: 2e-6,
        "\(variant) silu of a strided view")
    }
  }

  func testArithmeticWithBroadcasting() throws {
    let f = Self.f
    try forEveryVariant { variant in
      let (a, b) = (try f("binary/a"), try f("binary/b"))
      try check(a + b, f("binary/add"), atol: 1e-6, rtol: 1e-6, "\(variant) add, row broadcast")
      try check(a - b, f("binary/subtract"), atol: 1e-6, rtol: 1e-6, "\(variant) subtract")
      try check(a * b, f("binary/multiply"), atol: 1e-6, rtol: 1e-6, "\(variant) multiply")
      try check(a / b, f("binary/divide"), atol: 1e-5, rtol: 1e-5, "\(variant) divide")
      try check(a * 2.5, f("binary/scalar_times"), atol: 1e-6, rtol: 1e-6, "\(variant) times a scalar")
      try check(a * f("binary/column"), f("binary/column_times"), atol: 1e-6, rtol: 1e-6, "\(variant) column broadcast")
      let t = try a.transposed(0, 2, 1)
      try check(t + t, f("binary/a_transposed_plus_a"), atol: 1e-6, rtol: 1e-6, "\(variant) transposed views")
      try check(f("binary/big") + f("binary/big_rows"), f("binary/big_sum"), atol: 1e-6, rtol: 1e-6, "\(variant) many rows")
      // A chain whose intermediates can be overwritten in place.
      try check((a * 1.0 + b) - b + b, f("binary/add"), atol: 1e-5, rtol: 1e-5, "\(variant) chain")
    }
  }

  func testLayerAndRMSNorms() throws {
    let f = Self.f
    try forEveryVariant { variant in
      let x = try f("norms/x")
      try check(MLXFast.layerNorm(x, eps: 1e-6), f("norms/layer_plain"), atol: 1e-5, rtol: 1e-5, "\(variant) layer norm")
      try check(
        MLXFast.layerNorm(x, weight: f("norms/w"), bias: f("norms/bias"), eps: 1e-6), f("norms/layer_affine"), atol: 1e-5,
        rtol: 1e-5, "\(variant) affine layer norm")
      try check(MLXFast.rmsNorm(x, weight: f("norms/w"), eps: 1e-6), f("norms/rms"), atol: 1e-5, rtol: 1e-5, "\(variant) RMS norm")
      try check(MLXFast.rmsNorm(x, weight: nil, eps: 1e-6), f("norms/rms_plain"), atol: 1e-5, rtol: 1e-5, "\(variant) plain RMS norm")
      let odd = try f("norms/odd")
      try check(MLXFast.layerNorm(odd, eps: 1e-5), f("norms/odd_layer"), atol: 1e-5, rtol: 1e-5, "\(variant) odd width")
      try check(
        MLXFast.rmsNorm(odd.transposed(), weight: nil, eps: 1e-5), f("norms/odd_columns_rms"), atol: 1e-5, rtol: 1e-5,
        "\(variant) RMS norm of a transposed view")
    }
  }

  func testGathersAndScatterAdds() throws {
    let f = Self.f
    try forEveryVariant { variant in
      try check(f("take/table").take(f("take/rows"), axis: 0), f("take/rows_out"), atol: 0, "\(variant) rows")
      try check(f("take/cube").take(f("take/partner"), axis: -1), f("take/partner_out"), atol: 0, "\(variant) last axis")
      try check(f("take/cube").take(f("take/signed"), axis: 1), f("take/signed_out"), atol: 0, "\(variant) negative indices")
      let rows = try f("take/rows")
      try check(
        f("scatter/base").scatterAdd(indices: [rows], updates: f("scatter/updates"), axes: [0]), f("scatter/out"),
        atol: 1e-5, rtol: 1e-5, "\(variant) rows with repeats")
      let ones = try MLXArray.ones([300, 1])
      try check(
        MLXArray.zeros([50]).scatterAdd(indices: [rows], updates: ones, axes: [0]), f("scatter/counts"), atol: 0,
        "\(variant) counts")
      // An intermediate result as the base (its buffer may be reused in place).
      try check(
        (f("scatter/base") * 1.0).scatterAdd(indices: [rows], updates: f("scatter/updates"), axes: [0]), f("scatter/out"),
        atol: 1e-5, rtol: 1e-5, "\(variant) onto an intermediate")
    }
  }

  func testRotaryEmbeddingOfInterleavedPairs() throws {
    let f = Self.f
    try forEveryVariant { variant in
      for width in [64, 20] {
        let c = "rotate_\(width)/"
        try check(
          MLXFast.rotatePairs(f(c + "x"), cos: f(c + "cos"), sin: f(c + "sin")), f(c + "out"), atol: 1e-5, rtol: 1e-5,
          "\(variant) width \(width)")
        // The same x as a transposed (strided) view.
        let view = try f(c + "x_bhsd").transposed(0, 2, 1, 3)
        try check(
          MLXFast.rotatePairs(view, cos: f(c + "cos"), sin: f(c + "sin")), f(c + "out"), atol: 1e-5, rtol: 1e-5,
          "\(variant) width \(width), strided x")
      }
      XCTAssertThrowsError(try MLXFast.rotatePairs(MLXArray.zeros([2, 3]), cos: MLXArray.zeros([3]), sin: MLXArray.zeros([3]))) {
        XCTAssertTrue("\($0)".contains("even"), "\($0)")
      }
    }
  }

  func testConvolutionsUpsamplingAndRowNorms() throws {
    try forEveryVariant { try checkConvolutions($0) }
  }

  func checkConvolutions(_ variant: String) throws {
    let f = Self.f
    let x = try f("conv/x")
    try check(conv2d(x, f("conv/w3"), padding: (1, 1)), f("conv/pad1"), atol: 1e-4, rtol: 1e-5, "\(variant) 3×3, padding 1")
    try check(conv2d(x, f("conv/w3"), stride: (2, 2)), f("conv/stride2"), atol: 1e-4, rtol: 1e-5, "\(variant) stride 2")
    try check(
      conv2d(x, f("conv/w3"), padding: (2, 2), dilation: (2, 2)), f("conv/dilated"), atol: 1e-4, rtol: 1e-5,
      "\(variant) dilation 2")
    try check(conv2d(x, f("conv/w1")), f("conv/pointwise"), atol: 1e-4, rtol: 1e-5, "\(variant) 1×1")
    try check(upsampleNearest2x(f("upsample/x")), f("upsample/out"), atol: 0, "\(variant) upsampling")
    let rows = try f("l2/x")
    try check(l2Norm(rows, axes: [-1], keepDims: true), f("l2/keep"), atol: 1e-5, rtol: 1e-5, "\(variant) L2, kept axis")
    try check(l2Norm(rows, axes: [2], keepDims: false), f("l2/drop"), atol: 1e-5, rtol: 1e-5, "\(variant) L2")
  }
}
