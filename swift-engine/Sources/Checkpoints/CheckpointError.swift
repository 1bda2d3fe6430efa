/// What kind of failure a client can act on. The engine maps each kind to one gRPC status, in one place.
public enum FailureKind: Sendable, Equatable {
  /// The request or the files it names are wrong (a shape, a config value, a corrupt header).
  case invalidInput
  /// A folder, file or handle does not exist.
  case notFound
  /// The request is fine but the engine's state does not allow it (nothing loaded, a component missing).
  case precondition
  /// It would not fit in memory (or on disk).
  case resourceExhausted
  /// The client cancelled.
  case cancelled
}

/// An error that says what is wrong in words a person can act on, with the kind of failure it is.
public protocol ClassifiedError: Error, CustomStringConvertible, Sendable {
  var kind: FailureKind { get }
  var message: String { get }
}

extension ClassifiedError {
  public var description: String { message }
}

/// A checkpoint folder or file that cannot be used, with what is wrong and where.
public struct CheckpointError: ClassifiedError {
  public let message: String
  public let kind: FailureKind
  public init(_ message: String, kind: FailureKind = .invalidInput) {
    self.message = message
    self.kind = kind
  }
}

/// A request the model cannot take (a conditioning made for another grid, a batch mismatch, a bad size).
public struct InputError: ClassifiedError {
  public let message: String
  public var kind: FailureKind { .invalidInput }
  public init(_ message: String) { self.message = message }
}

/// Work that would not fit in the memory (or disk) there is.
public struct ResourceError: ClassifiedError {
  public let message: String
  public var kind: FailureKind { .resourceExhausted }
  public init(_ message: String) { self.message = message }
}

/// A list for an error message: the count and the first few items, so messages stay short.
public func summarized(_ items: [String], limit: Int = 5) -> String {
  let shown = items.prefix(limit).joined(separator: ", ")
  return items.count > limit ? "\(shown), … (\(items.count - limit) more)" : shown
}
