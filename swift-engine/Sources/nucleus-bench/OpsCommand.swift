// Benchmarks of the engine's tensor layer on the DiT's real shapes; one JSON object per line on stdout.
//   nucleus-bench ops [--dtype float32|bfloat16] [--seconds S]
// bench/tensor-ops.ts runs it next to PyTorch on the same shapes and prints the ratios.
import MLX
import MLXNN

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

func now() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Median seconds of `body` (graph built and evaluated each time), after one warm-up, over at least 3 runs and
/// at least `budget` seconds.
func measure(budget: Double, _ body: () throws -> MLXArray) throws -> Double {
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

func report(_ name: String, dtype: DType, seconds: Double, flops: Double) {
  print(
    "{\"name\":\"\(name)\",\"dtype\":\"\(dtype)\",\"seconds\":\(seconds),\"gflops\":\(flops / seconds / 1e9)}")
  fflush(stdout)
}

let all = Array(CommandLine.arguments.dropFirst())
guard all.first == "ops" else {
  fputs("usage: nucleus-bench ops [--dtype float32|bfloat16] [--seconds S]\n", stderr)
  exit(2)
}
var dtype = DType.float32
var budget = 1.0
var index = 1
while index < all.count {
  switch all[index] {
  case "--dtype": dtype = all[index + 1] == "bfloat16" ? .bfloat16 : .float32; index += 2
  case "--seconds": budget = Double(all[index + 1]) ?? 1; index += 2
  default: fputs("unknown option \(all[index])\n", stderr); exit(2)
  }
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
  let linear = Linear(weight: try random([width, width], seed: 2))
  let seconds = try measure(budget: budget) { try linear(x) }
  report("linear M=\(tokens) 2048->2048", dtype: dtype, seconds: seconds, flops: 2.0 * Double(tokens * width * width))
  let quantizedLinear = try linear.quantized(groupSize: 64, bits: 4)
  let quantizedSeconds = try measure(budget: budget) { try quantizedLinear(x) }
  report(
    "linear M=\(tokens) 2048->2048 4-bit", dtype: dtype, seconds: quantizedSeconds,
    flops: 2.0 * Double(tokens * width * width))
}

let experts = 64
let inner = 2688
let stack = try random([experts, width, inner], seed: 3)
let quantizedStack = try ExpertWeights.quantize(stack, groupSize: 64, bits: 4)
if case .quantized(let q) = quantizedStack { try eval(q.weight, q.scales, q.biases) }
for capacity in [32, 128] {
  let x = try random([experts, capacity, width], seed: 4, scale: 1)
  let flops = 2.0 * Double(experts * capacity * width * inner)
  let dense = try measure(budget: budget) { try ExpertWeights.dense(stack).apply(x) }
  report("experts 64x\(capacity)x2048x2688", dtype: dtype, seconds: dense, flops: flops)
  let fourBit = try measure(budget: budget) { try quantizedStack.apply(x) }
  report("experts 64x\(capacity)x2048x2688 4-bit", dtype: dtype, seconds: fourBit, flops: flops)
}

let queries = try random([1, 16, 1024, 128], seed: 5, scale: 1)
let keys = try random([1, 4, 1152, 128], seed: 6, scale: 1)
let values = try random([1, 4, 1152, 128], seed: 7, scale: 1)
let attention = try measure(budget: budget) {
  try MLXFast.scaledDotProductAttention(queries: queries, keys: keys, values: values, scale: 1 / Float(128).squareRoot())
}
report("attention 16q/4kv heads S=1024 over 1152", dtype: dtype, seconds: attention, flops: 4.0 * 16 * 1024 * 1152 * 128)

