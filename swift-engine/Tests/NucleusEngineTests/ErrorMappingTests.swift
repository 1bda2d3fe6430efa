import XCTest

@testable import Checkpoints
@testable import MLX
@testable import NucleusEngine

/// Failures become gRPC statuses in one place: by kind for classified errors, INTERNAL for MLX and anything else,
/// and every message short enough for any gRPC client (grpcio refuses status metadata over 16 KiB).
final class ErrorMappingTests: XCTestCase {
  func testEveryKindHasItsStatus() {
    let cases: [(any Error, GRPCStatus)] = [
      (InputError("a conditioning made for another grid"), .invalidArgument),
      (CheckpointError("transformer/config.json: num_layers 0 is outside 1...1024"), .invalidArgument),
      (CheckpointError("/models/x does not exist", kind: .notFound), .notFound),
      (ResourceError("needs 40 GiB"), .resourceExhausted),
      (CheckpointError("cancelled", kind: .cancelled), .cancelled),
      (RPCError(.failedPrecondition, "no transformer is loaded"), .failedPrecondition),
      (MLXError("[matmul] shapes do not match"), .internalError),
      (CocoaLikeError(), .internalError),
    ]
    for (error, expected) in cases {
      let (status, message) = RPCError.status(for: error, method: "/nucleus.engine.v1.Engine/Denoise")
      XCTAssertEqual(status, expected, "\(error)")
      XCTAssertFalse(message.isEmpty)
    }
    let (_, mlxMessage) = RPCError.status(for: MLXError("boom"), method: "/nucleus.engine.v1.Engine/Denoise")
    XCTAssertTrue(mlxMessage.hasPrefix("Denoise failed in MLX: "), mlxMessage)
  }

  func testLongMessagesAreShortenedAndSaySo() {
    let long = String(repeating: "missing key transformer_blocks.31.attn.to_q.weight, ", count: 2000)
    let (_, message) = RPCError.status(for: CheckpointError(long), method: "/x/LoadModel")
    XCTAssertLessThanOrEqual(message.utf8.count, RPCError.maxMessageBytes)
    XCTAssertTrue(message.hasSuffix("more bytes)"), message.suffix(40).description)
    let short = "a short message"
    XCTAssertEqual(RPCError.status(for: InputError(short), method: "/x/Denoise").1, short)
  }

  func testListsInMessagesNameTheCountAndTheFirstFew() {
    let keys = (0..<431).map { "transformer_blocks.\($0).attn.to_q.weight" }
    let text = summarized(keys)
    XCTAssertTrue(text.hasPrefix("transformer_blocks.0.attn.to_q.weight, "))
    XCTAssertTrue(text.hasSuffix("(426 more)"), text)
  }
}

private struct CocoaLikeError: Error {}
