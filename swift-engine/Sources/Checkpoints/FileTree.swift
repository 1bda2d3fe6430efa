/// Copies of model files that cost no disk where possible: hard links (following the Hugging Face cache's links
/// to its blobs), else byte copies that keep zero blocks as holes.
public enum FileTree {
  /// Recreates `source` (a file or a folder tree) at `target`, which must not exist.
  public static func linkOrCopy(from source: String, to target: String) throws {
    if FileBytes.isDirectory(source) {
      guard mkdir(target, 0o755) == 0 else { throw failure("cannot create", target) }
      for name in try FileBytes.listDirectory(source) {
        try linkOrCopy(from: source + "/" + name, to: target + "/" + name)
      }
      return
    }
    guard let size = try FileBytes.regularFileSize(source) else { throw CheckpointError("\(source) does not exist", kind: .notFound) }
    if linkat(AT_FDCWD, source, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0 { return }
    try copy(source, size: size, to: target)
  }

  static func copy(_ source: String, size: Int, to target: String, blockBytes: Int = 8 << 20) throws {
    let input = try FileBytes.openRegular(source)
    defer { close(input) }
    let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard output >= 0 else { throw failure("cannot create", target) }
    defer { close(output) }
    guard ftruncate(output, off_t(size)) == 0 else { throw failure("cannot size", target) }
    var buffer = [UInt8](repeating: 0, count: blockBytes)
    var offset = 0
    while offset < size {
      let count = Swift.min(blockBytes, size - offset)
      let got = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress!, count, off_t(offset)) }
      if got < 0 && errno == EINTR { continue }
      guard got > 0 else { throw failure("cannot read", source) }
      try buffer.withUnsafeBytes { raw in
        let block = UnsafeRawBufferPointer(rebasing: raw[0..<got])
        guard !isAllZero(block) else { return }
        guard FileBytes.writeFully(output, block, offset: offset) else { throw failure("cannot write", target) }
      }
      offset += got
    }
  }

  static func failure(_ what: String, _ path: String) -> CheckpointError {
    let full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG
    return CheckpointError(
      "\(what) \(path): \(String(cString: strerror(errno)))\(full ? " (free some disk space, or write elsewhere)" : "")",
      kind: full ? .resourceExhausted : .invalidInput)
  }
}

extension FileTree {
  /// Bytes a file or folder tree occupies on disk (holes of sparse files do not count; links are followed).
  public static func allocatedBytes(_ path: String) -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    guard (info.st_mode & S_IFMT) == S_IFDIR else { return Int(info.st_blocks) * 512 }
    return ((try? FileBytes.listDirectory(path)) ?? []).reduce(0) { $0 + allocatedBytes(path + "/" + $1) }
  }
}

extension FileTree {
  /// The names in a folder, sorted.
  public static func list(_ path: String) throws -> [String] { try FileBytes.listDirectory(path) }
}

/// Whether every byte is zero (such blocks are left as holes), eight bytes at a time.
func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
  let words = bytes.count / 8
  for index in 0..<words where bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 { return false }
  for index in (words * 8)..<bytes.count where bytes[index] != 0 { return false }
  return true
}
