import XCTest

@testable import Checkpoints
@testable import MLX

enum Paths {
  static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path
  static let tinyMLP = repoRoot + "/test/fixtures/checkpoints/tiny-mlp"

  /// A fresh empty folder under the system temporary directory, removed by the caller's teardown.
  static func temporaryFolder(_ name: String) -> String {
    let path = "/tmp/nucleus-swift-test-\(getpid())-\(name)"
    _ = system("rm -rf '\(path)'")
    mkdir(path, 0o755)
    return path
  }

  static func copyFolder(_ source: String, to destination: String) {
    _ = system("rm -rf '\(destination)' && cp -r '\(source)' '\(destination)'")
  }
}

func assertClose(
  _ actual: MLXArray, _ expected: MLXArray, atol: Float, rtol: Float = 0, _ message: String = "",
  file: StaticString = #filePath, line: UInt = #line
) throws {
  XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
  let a = try actual.asType(.float32).asArray(Float.self)
  let e = try expected.asType(.float32).asArray(Float.self)
  for index in a.indices where !(Swift.abs(a[index] - e[index]) <= atol + rtol * Swift.abs(e[index])) {
    XCTFail("\(message): element \(index) is \(a[index]), expected \(e[index])", file: file, line: line)
    return
  }
}
