import Checkpoints
import MLX
import NucleusModels

/// Memory that large requests hold outside MLX while they are handled (the message, its decoded form and the
/// tensor made from it), counted against MLX's memory limit together with what MLX holds: concurrent requests
/// cannot together go over the limit a client set; one that would is refused with RESOURCE_EXHAUSTED.
final class RequestMemory: @unchecked Sendable {
  /// Copies of a request's bytes alive at once while a handler runs: the message, protobuf-c's decoded copy and
  /// the array made from a tensor field.
  static let copiesPerRequest = 3
  /// Requests below this size are never refused (control calls must always get through).
  static let smallRequestBytes = 1 << 20

  private let lock = Lock()
  private var reserved = 0

  /// Bytes held by requests being handled now.
  var reservedBytes: Int { lock.withLock { reserved } }

  /// Reserves the memory a `requestBytes`-byte `method` call holds; release it when the call ends.
  func reserve(requestBytes: Int, method: String) throws -> Int {
    guard requestBytes >= Self.smallRequestBytes else { return 0 }
    let needed = MemoryBudget.product(requestBytes, Self.copiesPerRequest)
    let memory = try Memory.snapshot()
    let limit = Int(clamping: memory.limitBytes)
    let active = Int(clamping: memory.activeBytes)
    return try lock.withLock {
      let usable = Swift.max(0, limit - active - reserved)
      guard needed <= usable else {
        let (neededText, usableText) = MemoryBudget.distinct(needed, usable)
        throw ResourceError(
          "\(method) with a \(MemoryBudget.gib(requestBytes)) message needs about \(neededText) of memory while it is handled, but only \(usableText) of the engine's \(MemoryBudget.gib(limit)) limit are free (\(MemoryBudget.gib(reserved)) held by other requests in flight): send it again when they finish, send less at once, or raise the limit")
      }
      reserved += needed
      return needed
    }
  }

  func release(_ bytes: Int) {
    guard bytes > 0 else { return }
    lock.withLock { reserved -= bytes }
  }
}
