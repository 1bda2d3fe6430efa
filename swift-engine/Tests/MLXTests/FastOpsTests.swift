import XCTest

@testable import MLX

final class FastOpsTests: XCTestCase {
  func testLayerNormWithAndWithoutAffine() throws {
    let x = try Fixture.op("layer_norm/x")
    let affine = try MLXFast.layerNorm(x, weight: Fixture.op("layer_norm/weight"), bias: Fixture.op("layer_norm/bias"), eps: 1e-6)
    try assertClose(affine, Fixture.op("layer_norm/affine"), atol: 1e-5, rtol: 1e-5)
    try assertClose(MLXFast.layerNorm(x, eps: 1e-6), Fixture.op("layer_norm/plain"), atol: 1e-5, rtol: 1e-5)
  }

  func testRMSNorm() throws {
    let result = try MLXFast.rmsNorm(Fixture.op("rms_norm/x"), weight: Fixture.op("rms_norm/weight"), eps: 1e-6)
    try assertClose(result, Fixture.op("rms_norm/expected"), atol: 1e-5, rtol: 1e-5)
  }

  func testAttentionWithGroupedKVHeadsAndEveryMaskKind() throws {
    let q = try Fixture.op("sdpa/q")
    let k = try Fixture.op("sdpa/k")
    let v = try Fixture.op("sdpa/v")
    let scale = try Fixture.op("sdpa/scale").item(Float.self)
    try assertClose(
      MLXFast.scaledDotProductAttention(queries: q, keys: k, values: v, scale: scale), Fixture.op("sdpa/plain"),
      atol: 1e-5, "no mask")
    try assertClose(
      MLXFast.scaledDotProductAttention(queries: q, keys: k, values: v, scale: scale, mask: .array(Fixture.op("sdpa/keep"))),
      Fixture.op("sdpa/boolean"), atol: 1e-5, "boolean mask")
    try assertClose(
      MLXFast.scaledDotProductAttention(
        queries: q, keys: k, values: v, scale: scale, mask: .array(Fixture.op("sdpa/additive"))),
      Fixture.op("sdpa/additive_out"), atol: 1e-5, "additive mask")
    try assertClose(
      MLXFast.scaledDotProductAttention(
        queries: q, keys: Fixture.op("sdpa/causal_k"), values: Fixture.op("sdpa/causal_v"), scale: scale, mask: .causal),
      Fixture.op("sdpa/causal"), atol: 1e-5, "causal")
  }

  func testConv2dNHWC() throws {
    let x = try Fixture.op("conv2d/x")
    let w = try Fixture.op("conv2d/weight")
    try assertClose(conv2d(x, w, padding: (1, 1)), Fixture.op("conv2d/pad1"), atol: 1e-5)
    try assertClose(conv2d(x, w, stride: (2, 2)), Fixture.op("conv2d/stride2"), atol: 1e-5)
    try assertClose(conv2d(x, w, padding: (2, 2), dilation: (2, 2)), Fixture.op("conv2d/dilated"), atol: 1e-5)
  }

  func testNearestUpsampling() throws {
    try assertClose(upsampleNearest2x(Fixture.op("upsample/x")), Fixture.op("upsample/expected"), atol: 0)
  }
}
