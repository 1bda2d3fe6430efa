import CGRPCShim

/// One incoming call: its method, its request bytes, and the way to answer.
public final class RPCCall {
  let call: OpaquePointer

  init(call: OpaquePointer) { self.call = call }

  public var method: String { String(cString: ngs_call_method(call)) }

  /// The request message bytes, or nil when the client sent no message (a copy; see `withRequestBytes`).
  public var request: [UInt8]? {
    var length = 0
    var hasMessage: Int32 = 0
    let data = ngs_call_request(call, &length, &hasMessage)
    guard hasMessage != 0 else { return nil }
    guard let data, length > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: length))
  }

  /// The request message's length in bytes (0 when none was sent).
  public var requestLength: Int {
    var length = 0
    _ = ngs_call_request(call, &length, nil)
    return length
  }

  /// True when the client sent a request message.
  public var hasRequest: Bool {
    var hasMessage: Int32 = 0
    _ = ngs_call_request(call, nil, &hasMessage)
    return hasMessage != 0
  }

  /// The request message bytes where the transport holds them (valid during `body`).
  public func withRequestBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
    var length = 0
    let data = ngs_call_request(call, &length, nil)
    return try body(UnsafeBufferPointer(start: length > 0 ? data : nil, count: length))
  }

  /// A buffer of `size` bytes for the final response message, sent without a copy by `finishWithPackedResponse`.
  func responseBuffer(_ size: Int) -> UnsafeMutablePointer<UInt8> { ngs_call_response_buffer(call, size) }

  /// Ends the call with OK and the message in `responseBuffer`.
  public func finishWithPackedResponse() {
    isFinished = true
    _ = ngs_call_finish_with_response_buffer(call, GRPCStatus.ok.rawValue, "")
  }

  /// Sends one message of a server stream; false when the client is gone.
  @discardableResult
  public func send(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { ngs_call_send(call, $0.baseAddress, $0.count) } == 0
  }

  /// True once `finish` was called.
  public private(set) var isFinished = false

  public func finish(_ status: GRPCStatus, message: String = "", response: [UInt8]? = nil) {
    isFinished = true
    if let response {
      // An empty message (e.g. ShutdownResponse) is still a message: pass a valid pointer with length 0.
      var placeholder: UInt8 = 0
      if response.isEmpty {
        _ = ngs_call_finish(call, status.rawValue, message, &placeholder, 0)
      } else {
        _ = response.withUnsafeBufferPointer { ngs_call_finish(call, status.rawValue, message, $0.baseAddress, $0.count) }
      }
    } else {
      _ = ngs_call_finish(call, status.rawValue, message, nil, 0)
    }
  }

  /// True once the client cancelled, its deadline passed or the connection broke.
  public var isCancelled: Bool { ngs_call_is_cancelled(call) != 0 }
}
