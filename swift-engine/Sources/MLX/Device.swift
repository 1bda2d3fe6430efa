import CMLXBridge

/// The MLX library and the device it computes on.
public enum Device {
  /// The MLX version string of the linked libmlx, e.g. "0.32.4".
  public static var mlxVersion: String { String(cString: mlxb_version()) }

  /// "metal", "cuda" or "cpu".
  public static var backend: String { String(cString: mlxb_backend()) }

  /// Makes the calling thread compute on the process-wide shared stream (MLX's default streams are per thread,
  /// and arrays built on one thread cannot be evaluated on another without it). Serialize the computations.
  public static func useSharedStream() throws {
    try check(mlxb_use_shared_stream())
  }

  /// The device name MLX reports ("" on the CPU backend, which has none).
  public static func name() throws -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    try check(mlxb_device_name(&buffer, buffer.count))
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }
}

/// MLX's allocator statistics and limits (the `Memory` namespace of mlx-swift).
public enum Memory {
  public struct Snapshot: Sendable {
    public var activeBytes: UInt64
    public var peakBytes: UInt64
    public var cacheBytes: UInt64
    public var limitBytes: UInt64
    /// The device's total memory when MLX knows it (GPU backends), else 0.
    public var deviceTotalBytes: UInt64
  }

  public static func snapshot() throws -> Snapshot {
    var stats = mlxb_memory_stats()
    try check(mlxb_memory_stats_get(&stats))
    return Snapshot(
      activeBytes: stats.active_bytes, peakBytes: stats.peak_bytes, cacheBytes: stats.cache_bytes,
      limitBytes: stats.limit_bytes, deviceTotalBytes: stats.device_total_bytes)
  }

  @discardableResult
  public static func setMemoryLimit(_ bytes: UInt64) throws -> UInt64 {
    var previous: UInt64 = 0
    try check(mlxb_set_memory_limit(bytes, &previous))
    return previous
  }

  @discardableResult
  public static func setCacheLimit(_ bytes: UInt64) throws -> UInt64 {
    var previous: UInt64 = 0
    try check(mlxb_set_cache_limit(bytes, &previous))
    return previous
  }

  public static func resetPeak() throws { try check(mlxb_reset_peak_memory()) }
  /// Frees MLX's cached buffers and returns the host memory kept by `keepFreedHostMemory` to the system.
  public static func clearCache() throws { try check(mlxb_clear_cache()) }

  /// Keeps freed host blocks of up to 32 MiB for reuse instead of handing them back to the system at once (which
  /// made every forward's activations fresh, page-faulting memory on the CPU backend). Call once at start-up.
  public static func keepFreedHostMemory() { mlxb_keep_freed_host_memory() }
}
