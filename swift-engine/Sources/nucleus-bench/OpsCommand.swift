// `nucleus-bench ops [--dtype float32|bfloat16] [--seconds S]`: the tensor layer on the DiT's real shapes, one JSON
// object per line ({name, dtype, seconds, gflops}). bench/tensor-ops.ts runs it next to PyTorch on the same shapes.
import MLX
import MLXNN

enum OpsCommand {
  static let usage = "nucleus-bench ops [--dtype float32|bfloat16] [--seconds S]"

  static func run(_ arguments: [String]) throws {
    let options = try Options(arguments, valued: ["--dtype", "--seconds"])
    let dtype = try options.dtype("--dtype", default: .float32)
    let budget = Double(options.string("--seconds") ?? "1") ?? 1

    /// Median seconds of `body` after one warm-up, over at least 3 runs and at least `budget` seconds.
    func measure(_ body: () throws -> MLXArray) throws -> Double {
      try eval(body())
      var times: [Double] = []
      let start = now()
      while times.count < 3 || (now() - start < budget && times.count < 50) {
        let t0 = now()
        try eval(body())
        times.append(now() - t0)
      }
      return times.sorted()[times.count / 2]
    }

    func report(_ name: String, seconds: Double, flops: Double) {
      emit([
        ("name", .string(name)), ("dtype", .string("\(dtype)")), ("seconds", .number(seconds)),
        ("gflops", .number(flops / seconds / 1e9)),
      ])
    }

    func random(_ shape: [Int], seed: UInt64, scale: Double = 0.02) throws -> MLXArray {
      let values = try MLXRandom.normal(shape, key: MLXRandom.key(seed)) * scale
      let typed = try values.asType(dtype)
      try eval(typed)
      return typed
    }

    let width = 2048
    for tokens in [1024, 4096] {
      let x = try random([tokens, width], seed: 1, scale: 1)
      let linear = Linear(width, width, bias: false)
      linear.weight.set(try random([width, width], seed: 2))
      let seconds = try measure { try linear(x) }
      report("linear M=\(tokens) 2048->2048", seconds: seconds, flops: 2.0 * Double(tokens * width * width))
      let quantizedLinear = Linear(width, width, bias: false)
      quantizedLinear.weight.set(try random([width, width], seed: 2))
      try quantizedLinear.quantize(linear: QuantizationSpec(bits: 4, groupSize: 64), experts: nil)
      let quantizedSeconds = try measure { try quantizedLinear(x) }
      report("linear M=\(tokens) 2048->2048 4-bit", seconds: quantizedSeconds, flops: 2.0 * Double(tokens * width * width))
    }

    // The mid preset's widths (512 hidden, 2,048 feed-forward, 16 experts of 336): small K and N, where a matmul's
    // fixed costs (splitting, packing) weigh more.
    for (input, output) in [(512, 512), (512, 2048), (2048, 512)] {
      let x = try random([1024, input], seed: 11, scale: 1)
      let linear = Linear(input, output, bias: false)
      linear.weight.set(try random([output, input], seed: 12))
      let seconds = try measure { try linear(x) }
      report("linear M=1024 \(input)->\(output)", seconds: seconds, flops: 2.0 * Double(1024 * input * output))
    }
    let midStack = ExpertLinear(experts: 16, input: 512, output: 336)
    midStack.weight.set(try random([16, 512, 336], seed: 13))
    let midTokens = try random([16, 256, 512], seed: 14, scale: 1)
    report("experts 16x256x512x336", seconds: try measure { try midStack(midTokens) }, flops: 2.0 * Double(16 * 256 * 512 * 336))

    let experts = 64
    let inner = 2688
    let denseStack = ExpertLinear(experts: experts, input: width, output: inner)
    denseStack.weight.set(try random([experts, width, inner], seed: 3))
    let quantizedStack = ExpertLinear(experts: experts, input: width, output: inner)
    quantizedStack.weight.set(try random([experts, width, inner], seed: 3))
    try quantizedStack.quantize(linear: nil, experts: QuantizationSpec(bits: 4, groupSize: 64))
    for capacity in [32, 128] {
      let x = try random([experts, capacity, width], seed: 4, scale: 1)
      let flops = 2.0 * Double(experts * capacity * width * inner)
      let dense = try measure { try denseStack(x) }
      report("experts 64x\(capacity)x2048x2688", seconds: dense, flops: flops)
      let fourBit = try measure { try quantizedStack(x) }
      report("experts 64x\(capacity)x2048x2688 4-bit", seconds: fourBit, flops: flops)
    }

    // 1,024 image queries over 1,152 keys (512² with 128 text tokens): the release's heads, and the mid preset's
    // (head_dim 64, 2 key/value heads), where attention is a larger share of a forward.
    for (heads, kvHeads, headDim, seed) in [(16, 4, 128, UInt64(5)), (8, 2, 64, UInt64(8))] {
      let queries = try random([1, heads, 1024, headDim], seed: seed, scale: 1)
      let keys = try random([1, kvHeads, 1152, headDim], seed: seed + 1, scale: 1)
      let values = try random([1, kvHeads, 1152, headDim], seed: seed + 2, scale: 1)
      let attention = try measure {
        try MLXFast.scaledDotProductAttention(queries: queries, keys: keys, values: values, scale: 1 / Float(headDim).squareRoot())
      }
      report(
        "attention \(heads)q/\(kvHeads)kv heads d\(headDim) S=1024 over 1152", seconds: attention,
        flops: 4.0 * Double(heads * 1024 * 1152 * headDim))
    }
  }
}
