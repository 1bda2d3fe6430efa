#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import MLX

/// Writes one safetensors file whose tensors are known up front: the header first, then each tensor's bytes at the
/// place the header gives it, in any order and in parts, so a converter never holds more than a slice. Zero blocks
/// of copied tensors are skipped and stay holes (sparse files read as zeros).
public final class SafetensorsWriter {
  public struct Tensor: Sendable {
    public var key: String
    public var dtype: DType
    public var shape: [Int]
    public init(key: String, dtype: DType, shape: [Int]) {
      self.key = key
      self.dtype = dtype
      self.shape = shape
    }
    public var byteCount: Int { shape.reduce(1, *) * dtype.size }
  }

  public let path: String
  private let fd: Int32
  /// Absolute file offset and size of each tensor's bytes.
  private var placement: [String: (offset: Int, size: Int)] = [:]
  private var written: [String: Int] = [:]
  public let fileSize: Int

  /// Creates `path` (it must not exist), writes the header and sizes the file.
  public init(path: String, tensors: [Tensor], metadata: [String: String] = ["format": "pt"]) throws {
    self.path = path
    var header: [String: JSONValue] = ["__metadata__": .object(metadata.mapValues { .string($0) })]
    var offset = 0
    var relative: [String: (Int, Int)] = [:]
    for tensor in tensors {
      guard let code = SafetensorsHeader.code(of: tensor.dtype) else { throw CheckpointError("cannot store \(tensor.dtype) in safetensors") }
      header[tensor.key] = .object([
        "dtype": .string(code), "shape": .array(tensor.shape.map { .integer($0) }),
        "data_offsets": .array([.integer(offset), .integer(offset + tensor.byteCount)]),
      ])
      relative[tensor.key] = (offset, tensor.byteCount)
      offset += tensor.byteCount
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var json = Array(try encoder.encode(JSONValue.object(header)))
    while json.count % 8 != 0 { json.append(0x20) }  // data starts 8-byte aligned, as safetensors writes it
    let dataStart = 8 + json.count
    placement = relative.mapValues { (dataStart + $0.0, $0.1) }
    fileSize = dataStart + offset

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw CheckpointError("cannot create \(path): \(String(cString: strerror(errno)))", kind: .resourceExhausted) }
    var prefix = [UInt8](repeating: 0, count: 8)
    for byte in 0..<8 { prefix[byte] = UInt8((json.count >> (8 * byte)) & 0xFF) }
    try writeAll(prefix + json, at: 0)
    guard ftruncate(fd, off_t(fileSize)) == 0 else { throw failure("cannot size") }
  }

  deinit { close(fd) }

  /// Writes `bytes` into tensor `key` starting `byteOffset` bytes into it; all-zero bytes stay a hole.
  public func write(_ key: String, bytes: UnsafeRawBufferPointer, at byteOffset: Int = 0) throws {
    guard let (start, size) = placement[key], byteOffset >= 0, byteOffset + bytes.count <= size else {
      throw CheckpointError("internal: \(bytes.count) bytes at \(byteOffset) do not fit tensor \(key) of \(path)")
    }
    if !isAllZero(bytes) { try writeAll(bytes, at: start + byteOffset) }
    written[key, default: 0] += bytes.count
  }

  /// Writes an array's elements (row-major) into tensor `key` at `byteOffset`.
  public func write(_ key: String, array: MLXArray, at byteOffset: Int = 0) throws {
    let bytes = try array.bytes()
    try bytes.withUnsafeBytes { try write(key, bytes: $0, at: byteOffset) }
  }

  /// Copies a stored tensor's bytes block by block; all-zero blocks are left as holes.
  public func copy(_ key: String, from location: TensorLocation, blockBytes: Int = 8 << 20) throws {
    let source = try FileBytes.openRegular(location.path)
    defer { close(source) }
    var buffer = [UInt8](repeating: 0, count: Swift.min(blockBytes, Swift.max(location.byteCount, 1)))
    var done = 0
    while done < location.byteCount {
      let count = Swift.min(buffer.count, location.byteCount - done)
      let got = buffer.withUnsafeMutableBytes {
        FileBytes.readFully(source, into: $0.baseAddress!, count: count, offset: location.offset + done)
      }
      guard got == count else {
        throw CheckpointError("cannot read \(location.path) (\(got == nil ? String(cString: strerror(errno)) : "ended early"))")
      }
      try buffer.withUnsafeBytes { try write(key, bytes: UnsafeRawBufferPointer(rebasing: $0[0..<count]), at: done) }
      done += count
    }
  }

  /// Checks that every tensor was written whole and flushes the file to disk.
  public func finish() throws {
    for (key, (_, size)) in placement where written[key, default: 0] != size {
      throw CheckpointError("internal: tensor \(key) of \(path) got \(written[key, default: 0]) of \(size) bytes")
    }
    guard fsync(fd) == 0 else { throw failure("cannot flush") }
  }

  private func writeAll(_ bytes: [UInt8], at offset: Int) throws {
    try bytes.withUnsafeBytes { try writeAll($0, at: offset) }
  }

  private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
    guard FileBytes.writeFully(fd, bytes, offset: offset) else { throw failure("cannot write") }
  }

  private func failure(_ what: String) -> CheckpointError {
    let full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG
    return CheckpointError(
      "\(what) \(path): \(String(cString: strerror(errno)))\(full ? " (free some disk space, or write elsewhere)" : "")",
      kind: full ? .resourceExhausted : .invalidInput)
  }
}

extension SafetensorsHeader {
  /// The safetensors dtype code of an MLX dtype.
  public static func code(of dtype: DType) -> String? {
    switch dtype {
    case .bool: "BOOL"
    case .uint8: "U8"
    case .uint32: "U32"
    case .int32: "I32"
    case .int64: "I64"
    case .float16: "F16"
    case .bfloat16: "BF16"
    case .float32: "F32"
    }
  }
}
