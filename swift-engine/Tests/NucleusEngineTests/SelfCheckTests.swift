import XCTest

@testable import NucleusEngine

final class SelfCheckTests: XCTestCase {
  func testSelfCheckPasses() {
    let items = SelfCheck.run()
    XCTAssertEqual(items.count, 2)
    for item in items {
      XCTAssertTrue(item.passed, "\(item.name): \(item.detail) (error \(item.maxAbsError))")
      XCTAssertLessThanOrEqual(item.maxAbsError, item.tolerance)
    }
  }

  func testOptionsParsing() throws {
    let options = try EngineOptions.parse(["--port", "0", "--exit-on-stdin-eof", "--shutdown-grace-ms", "250"])
    XCTAssertEqual(options.address, .loopback(port: 0))
    XCTAssertTrue(options.exitOnStandardInputEOF)
    XCTAssertEqual(options.shutdownGraceMilliseconds, 250)
    XCTAssertThrowsError(try EngineOptions.parse(["--socket", "relative.sock"]))
    XCTAssertThrowsError(try EngineOptions.parse(["--port", "70000"]))
    XCTAssertThrowsError(try EngineOptions.parse(["--socket", "/tmp/a.sock", "--port", "1"]))
    XCTAssertThrowsError(try EngineOptions.parse(["--bogus"]))
    XCTAssertNil(try EngineOptions.parse([]).address)  // the default socket is chosen (and made) at start
    XCTAssertEqual(try EngineOptions.parse(["--port", "0", "--token", "s3cr3t-token"]).token, "s3cr3t-token")
    for bad in ["", "has space", "tab\there", "caf\u{e9}"] {
      XCTAssertThrowsError(try EngineOptions.parse(["--token", bad]), bad)
    }
  }
}
