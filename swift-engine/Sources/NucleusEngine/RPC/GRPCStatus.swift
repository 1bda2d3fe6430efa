import Checkpoints
import MLX

/// gRPC status codes (the subset the engine returns) and the error type handlers throw.
public enum GRPCStatus: Int32, Sendable {
  case ok = 0
  case cancelled = 1
  case unknown = 2
  case invalidArgument = 3
  case deadlineExceeded = 4
  case notFound = 5
  case failedPrecondition = 9
  case resourceExhausted = 8
  case aborted = 10
  case unimplemented = 12
  case internalError = 13
  case unavailable = 14
}

/// An error that ends an RPC with `status` and a message that tells the caller what to fix.
public struct RPCError: Error, CustomStringConvertible, Sendable {
  public let status: GRPCStatus
  public let message: String

  public init(_ status: GRPCStatus, _ message: String) {
    self.status = status
    self.message = message
  }

  public var description: String { "\(status): \(message)" }
}

extension RPCError {
  /// Status messages stay short: gRPC clients (Python's grpcio among them) refuse metadata over 16 KiB.
  static let maxMessageBytes = 2048

  /// The one place failures become gRPC statuses: classified errors by kind, MLX failures and anything unforeseen
  /// as INTERNAL naming the method.
  static func status(for error: Error, method: String) -> (GRPCStatus, String) {
    let (status, message): (GRPCStatus, String)
    switch error {
    case let error as RPCError: (status, message) = (error.status, error.message)
    case let error as ClassifiedError: (status, message) = (Self.status(for: error.kind), error.message)
    case let error as MLXError: (status, message) = (.internalError, "\(method.split(separator: "/").last ?? "") failed in MLX: \(error)")
    default: (status, message) = (.internalError, "\(method.split(separator: "/").last ?? "") failed: \(error)")
    }
    return (status, shortened(message))
  }

  static func status(for kind: FailureKind) -> GRPCStatus {
    switch kind {
    case .invalidInput: .invalidArgument
    case .notFound: .notFound
    case .precondition: .failedPrecondition
    case .resourceExhausted: .resourceExhausted
    case .cancelled: .cancelled
    }
  }

  static func shortened(_ message: String) -> String {
    guard message.utf8.count > maxMessageBytes else { return message }
    var cut = message.prefix(maxMessageBytes - 40)
    while cut.utf8.count > maxMessageBytes - 40 { cut = cut.dropLast() }
    return cut + " … (\(message.utf8.count - cut.utf8.count) more bytes)"
  }
}
