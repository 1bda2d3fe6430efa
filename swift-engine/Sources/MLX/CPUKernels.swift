import CMLXBridge

/// The engine's own CPU kernels (fused attention and friends in the C++ bridge), which replace MLX's built-in
/// operations on the CPU backend for float32. The variant is chosen from the CPU's features; tests and benchmarks
/// can pin one. `NUCLEUS_CPU_KERNELS` (auto, mlx, portable, avx2, avx512) sets the starting choice.
public enum CPUKernels {
  /// The variant new operations use: "mlx" (MLX's own operations), "portable", "avx2" or "avx512".
  public static var active: String { String(cString: mlxb_cpu_kernels()) }

  /// The best variant this CPU supports.
  public static var best: String { String(cString: mlxb_cpu_kernels_best()) }

  /// Every variant this CPU can run, from MLX's own operations up to `best`.
  public static var supported: [String] {
    let all = ["mlx", "portable", "avx2", "avx512"]
    return Array(all.prefix(through: all.firstIndex(of: best) ?? 1))
  }

  /// Threads the kernels use.
  public static var threads: Int { Int(mlxb_cpu_kernel_threads()) }

  /// The sgemm the matmul and conv2d kernels call: "mkl" (oneMKL's sequential sgemm, unpacked by setup on
  /// x86-64 Linux), "openblas" (the BLAS library libmlx loads), "reference" (the wheel's own BLAS) or "none".
  /// `NUCLEUS_CPU_SGEMM` (auto, mkl, openblas) sets the starting choice; auto takes MKL when it is present.
  public static var sgemm: String { String(cString: mlxb_cpu_sgemm()) }

  /// Whether oneMKL was found and loaded.
  public static var mklAvailable: Bool { mlxb_cpu_sgemm_mkl_available() != 0 }

  /// Selects the sgemm provider ("auto", "mkl" or "openblas"); throws for unknown names and when MKL is missing.
  public static func selectSgemm(_ name: String) throws {
    try check(mlxb_cpu_sgemm_select(name))
  }

  /// Runs `body` with the sgemm provider `name`, then restores the previous choice.
  public static func withSgemm<R>(_ name: String, _ body: () throws -> R) throws -> R {
    let previous = sgemm == "mkl" ? "mkl" : "openblas"
    try selectSgemm(name)
    defer { try? selectSgemm(previous) }
    return try body()
  }

  /// Runs `body` with the fused attention limited to `keys` keys per chunk (forcing its online softmax over
  /// chunks on short sequences, for tests), then restores the automatic choice.
  public static func withAttentionChunk<R>(keys: Int, _ body: () throws -> R) rethrows -> R {
    let previous = mlxb_cpu_attention_chunk_keys(Int32(keys))
    defer { mlxb_cpu_attention_chunk_keys(previous) }
    return try body()
  }

  /// Selects a variant ("auto" = the best); throws for unknown names and variants this CPU lacks.
  public static func select(_ name: String) throws {
    try check(mlxb_cpu_kernels_select(name))
  }

  /// Runs `body` with `name` selected, then restores the previous choice.
  public static func with<R>(_ name: String, _ body: () throws -> R) throws -> R {
    let previous = active
    try select(name)
    defer { try? select(previous) }
    return try body()
  }
}
