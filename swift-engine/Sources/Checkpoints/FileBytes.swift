/// Small POSIX file helpers (FoundationEssentials has no FileHandle). Files are opened non-blocking and must be
/// regular files, so a FIFO or a device in a model folder is an error instead of a hang.
public enum FileBytes {
  /// pread until `count` bytes are at `into` or the file ends, retrying interrupted and short reads. The bytes
  /// read (fewer than `count` only where the file ends), or nil on an error, which errno names.
  public static func readFully(_ fd: Int32, into: UnsafeMutableRawPointer, count: Int, offset: Int) -> Int? {
    var done = 0
    while done < count {
      let n = pread(fd, into + done, count - done, off_t(offset + done))
      if n < 0 && errno == EINTR { continue }
      if n < 0 { return nil }
      if n == 0 { break }
      done += n
    }
    return done
  }

  /// pwrite all of `bytes` at `offset`, retrying interrupted and short writes; false on an error, which errno names.
  public static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, offset: Int) -> Bool {
    var done = 0
    while done < bytes.count {
      let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return false }
      done += n
    }
    return true
  }

  /// Whether anything exists at `path` (links followed).
  static func exists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
  }

  static func size(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_size)
  }

  /// The size of the regular file at `path`; nil when nothing is there; an error for a folder, FIFO or device.
  static func regularFileSize(_ path: String) throws -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError("\(path) is not a regular file") }
    return Int(info.st_size)
  }

  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// Opens a regular file for reading without ever blocking on it.
  static func openRegular(_ path: String) throws -> Int32 {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw CheckpointError("cannot open \(path): \(String(cString: strerror(errno)))") }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw CheckpointError("\(path) is not a regular file")
    }
    return fd
  }

  /// Reads `count` bytes at `offset`, or nil when the file is shorter.
  static func readRange(_ path: String, offset: Int, count: Int) throws -> [UInt8]? {
    let fd = try openRegular(path)
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: count)
    let read = buffer.withUnsafeMutableBytes { readFully(fd, into: $0.baseAddress!, count: count, offset: offset) }
    guard let read else { throw CheckpointError("cannot read \(path): \(String(cString: strerror(errno)))") }
    return read < count ? nil : buffer
  }

  /// The whole regular file, refused above `limit` bytes (configs and indexes are small).
  static func readFile(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
    guard let size = try regularFileSize(path) else { throw CheckpointError("\(path) does not exist", kind: .notFound) }
    guard size <= limit else { throw CheckpointError("\(path) is \(size) bytes, more than a \(limit >> 20) MiB \(path.hasSuffix(".json") ? "JSON file" : "file") can be") }
    guard let bytes = try readRange(path, offset: 0, count: size) else { throw CheckpointError("cannot read \(path)") }
    return bytes
  }

  static func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw CheckpointError("cannot list \(path): \(String(cString: strerror(errno)))") }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  static func writeFile(_ bytes: [UInt8], to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw CheckpointError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { throw CheckpointError("cannot write \(path): \(String(cString: strerror(errno)))", kind: .resourceExhausted) }
      done += n
    }
  }
}
