import MLX

/// Times an N×N float32 matmul on the engine's device (warm-up excluded) and reports GFLOP/s.
enum MatmulBenchmark {
  struct Result {
    var size: Int
    var seconds: Double
    var gflops: Double
  }

  static func run(size: Int) throws -> Result {
    let values = (0..<(size * size)).map { Float(sin(Double($0 % 9973))) }
    let a = try MLXArray(values, [size, size])
    let b = try MLXArray(values.reversed(), [size, size])
    try eval(a, b)
    try eval(matmul(a, b))
    let repetitions = size <= 512 ? 10 : (size <= 2048 ? 3 : 1)
    let start = monotonicSeconds()
    for _ in 0..<repetitions { try eval(matmul(a, b)) }
    let seconds = (monotonicSeconds() - start) / Double(repetitions)
    let flops = 2 * Double(size) * Double(size) * Double(size)
    return Result(size: size, seconds: seconds, gflops: flops / seconds / 1e9)
  }
}

func monotonicSeconds() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
