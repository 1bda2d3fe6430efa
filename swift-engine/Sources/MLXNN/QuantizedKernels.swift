#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import MLX

/// How quantized (and narrow-stored) weights are multiplied on this backend, and how much of the work a forward
/// keeps in flight.
///
/// On Metal and CUDA, MLX's quantized_matmul / gather_qmm kernels read the packed weights directly and are the
/// fast path. On the CPU backend they are plain loops on one thread (about 2 GFLOP/s for the DiT's expert shapes
/// on our 2-core machines, against about 150 GFLOP/s for a BLAS matmul): there we dequantize to the activation
/// dtype and use the BLAS matmul instead, trading a transient dense copy of the weight for a ~50x faster product.
/// The results agree within float rounding (see the quantization tests). NUCLEUS_QUANTIZED_KERNELS=native|dequantize
/// overrides the choice; benchmarks may also switch it in-process.
///
/// Those dense copies are what a CPU forward's peak memory is made of, so on that path the models evaluate one
/// layer at a time and expert stacks are converted a few experts at a time (MLX otherwise schedules a lazy graph
/// breadth-first and can hold many layers' copies at once; on one CPU stream nothing is lost by going in order).
public enum QuantizedKernels {
  nonisolated(unsafe) public static var dequantizeFirst: Bool = {
    switch getenvString("NUCLEUS_QUANTIZED_KERNELS") {
    case "native": return false
    case "dequantize": return true
    default: return Device.backend == "cpu"
    }
  }()

  /// Whether models evaluate layer by layer (the dequantize-first path).
  public static var evaluateLayerByLayer: Bool { dequantizeFirst }

  /// The most bytes of dense weight copies made at once for one expert stack on the dequantize-first path.
  public static let transientBytes = 256 << 20

  private static func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
  }
}
