import CEngineProto
import Checkpoints
import MLX
import NucleusModels

/// Shared-memory files that clients on this machine attached (AttachSharedMemory) so that tensors travel through
/// them instead of through messages. The engine reads and writes them with pread/pwrite and never maps them: a
/// file cut short behind its back is a short read and an error, not a crash. Only private files of the engine's
/// own user, directly in /dev/shm and named nucleus-*, are accepted, so a client cannot point the engine at
/// anything else the engine's user can read or write.
final class SharedMemoryFiles: @unchecked Sendable {
  static let folder = "/dev/shm"
  static let namePrefix = "nucleus-"
  static let maxFiles = 64

  /// An attached file; closed when detached and no call uses it any more.
  final class File: @unchecked Sendable {
    let descriptor: Int32
    let size: Int
    init(descriptor: Int32, size: Int) {
      self.descriptor = descriptor
      self.size = size
    }
    deinit { close(descriptor) }
  }

  private let lock = Lock()
  private var files: [UInt32: File] = [:]
  private var lastID: UInt32 = 0

  func attach(path: String) throws -> (id: UInt32, size: Int) {
    let name = try Self.checkedName(path)
    let descriptor = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
      let reason = String(cString: strerror(errno))
      if errno == ENOENT { throw RPCError(.notFound, "no shared-memory file \(name) in \(Self.folder): create it first") }
      throw RPCError(.invalidArgument, "cannot open the shared-memory file \(name) (\(reason)): it must be a regular file, not a link")
    }
    var info = stat()
    guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
      close(descriptor)
      throw RPCError(.invalidArgument, "the shared-memory file \(name) is not a regular file")
    }
    guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
      close(descriptor)
      throw RPCError(
        .invalidArgument,
        "the shared-memory file \(name) must belong to the engine's user and be private to it (mode 0600)")
    }
    let file = File(descriptor: descriptor, size: Int(info.st_size))
    return try lock.withLock {
      guard files.count < Self.maxFiles else {
        throw RPCError(
          .resourceExhausted,
          "\(Self.maxFiles) shared-memory files are attached already: detach one (DetachSharedMemory) first")
      }
      repeat { lastID &+= 1 } while lastID == 0 || files[lastID] != nil
      files[lastID] = file
      return (lastID, file.size)
    }
  }

  func detach(_ id: UInt32) -> Bool {
    lock.withLock { files.removeValue(forKey: id) != nil }
  }

  /// Fills `tensor.data` from its shared slice when it names one, so that the message reads as if the bytes had
  /// come inside it (TensorBounds and TensorCoding then apply unchanged). The bytes land in MLX's memory, where
  /// the array made from them keeps them.
  func fill(_ tensor: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, field: String) throws {
    guard let tensor, let slice = tensor.pointee.shared else { return }
    guard tensor.pointee.data.len == 0 else {
      throw RPCError(.invalidArgument, "\(field) has both data and a shared slice: send one of them")
    }
    guard let dtype = TensorCoding.dtype(tensor.pointee.dtype) else { return }  // decoding names the dtype problem
    let shape = (0..<tensor.pointee.n_shape).map { Int(tensor.pointee.shape[$0]) }
    let (_, count) = try TensorBounds.size(of: shape, elementSize: dtype.size, field: field)
    let file = try span(buffer: slice.pointee.buffer, offset: slice.pointee.offset, count: count, field: field)
    let offset = Int(slice.pointee.offset)
    guard count > 0 else { return }
    guard let bytes = PendingBytes.allocate(count) else {
      throw ResourceError("\(field) needs \(MemoryBudget.gib(count)) that the engine cannot allocate now")
    }
    guard FileBytes.readFully(file.descriptor, into: bytes, count: count, offset: offset) == count else {
      PendingBytes.free(bytes)
      throw RPCError(
        .invalidArgument,
        "\(field): shared-memory buffer \(slice.pointee.buffer) ends before byte \(offset + count) (was the file cut short?)")
    }
    tensor.pointee.data = ProtobufCBinaryData(len: count, data: bytes.assumingMemoryBound(to: UInt8.self))
  }

  /// Writes `bytes` at `offset` of `buffer`; the file must already be that long.
  func write(_ bytes: UnsafeRawBufferPointer, buffer: UInt32, offset: UInt64, field: String) throws {
    let file = try span(buffer: buffer, offset: offset, count: bytes.count, field: field)
    guard FileBytes.writeFully(file.descriptor, bytes, offset: Int(offset)) else {
      throw ResourceError("cannot write \(field) to shared-memory buffer \(buffer): \(String(cString: strerror(errno)))")
    }
  }

  /// Throws unless `buffer` is attached and holds `count` bytes from `offset`.
  func checkSpan(buffer: UInt32, offset: UInt64, count: Int, field: String) throws {
    _ = try span(buffer: buffer, offset: offset, count: count, field: field)
  }

  /// The attached file `buffer`, checked to hold `count` bytes from `offset`.
  private func span(buffer: UInt32, offset: UInt64, count: Int, field: String) throws -> File {
    guard let file = lock.withLock({ files[buffer] }) else {
      throw RPCError(.notFound, "\(field) names shared-memory buffer \(buffer), which is not attached: call AttachSharedMemory first")
    }
    guard offset <= UInt64(file.size), let end = Checked.add(Int(offset), count), end <= file.size else {
      throw RPCError(
        .invalidArgument,
        "\(field) needs \(count) bytes from byte \(offset) of shared-memory buffer \(buffer), which holds \(file.size)")
    }
    return file
  }

  /// The file name of `path`, which must be directly in /dev/shm and start with nucleus-.
  private static func checkedName(_ path: String) throws -> String {
    let prefix = folder + "/"
    let name = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : ""
    guard name.hasPrefix(namePrefix), !name.contains("/"), !path.utf8.contains(0) else {
      throw RPCError(
        .invalidArgument,
        "shared memory must be a file directly in \(folder) whose name starts with \(namePrefix), not \(path.debugDescription)")
    }
    return name
  }
}
