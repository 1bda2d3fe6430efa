import CMLXBridge

extension MLXArray {
  /// Reads a `dtype` tensor of `shape` stored at byte `offset` of the regular file `path` (an evaluated array; the
  /// bytes go straight into MLX's memory). Symbolic links, FIFOs and short files are errors.
  public static func read(file path: String, offset: Int, dtype: DType, shape: [Int]) throws -> MLXArray {
    guard offset >= 0 else { throw MLXError("negative file offset \(offset)") }
    let dims = try shape.map { dimension -> Int32 in
      guard dimension >= 0, dimension <= Int(Int32.max) else { throw MLXError("invalid dimension \(dimension)") }
      return Int32(dimension)
    }
    return try produce { out in
      dims.withUnsafeBufferPointer {
        mlxb_read_file_range(path, UInt64(offset), dtype.bridgeValue, $0.baseAddress, $0.count, out)
      }
    }
  }
}
