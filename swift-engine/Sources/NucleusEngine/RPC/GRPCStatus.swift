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
