/// A checkpoint folder or file that cannot be used, with what is wrong and where.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
