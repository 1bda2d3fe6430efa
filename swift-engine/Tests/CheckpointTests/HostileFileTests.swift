import XCTest

@testable import Checkpoints

/// Headers, indexes and configs written to break the loader (issue 11, defects 1, 6 and 8): each is an error
/// naming the file, never a trap, a hang, a read outside the folder or an echo of the file's bytes.
final class HostileFileTests: XCTestCase {
  private var folder = ""

  override func setUp() {
    folder = Paths.temporaryFolder("hostile-\(name.filter(\.isLetter).suffix(40))")
  }

  override func tearDown() {
    _ = system("rm -rf '\(folder)'")
  }

  /// A safetensors file whose header is `json` (data: `dataBytes` zero bytes).
  private func writeShard(_ path: String, json: String, dataBytes: Int = 16) throws {
    let header = Array(json.utf8)
    var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header
    bytes += [UInt8](repeating: 0, count: dataBytes)
    try FileBytes.writeFile(bytes, to: path)
  }

  private func headerError(_ json: String, dataBytes: Int = 16) throws -> String {
    let path = folder + "/t-\(UInt32.random(in: 0...UInt32.max)).safetensors"
    try writeShard(path, json: json, dataBytes: dataBytes)
    do {
      _ = try SafetensorsHeader.read(path)
      XCTFail("the header was accepted: \(json.prefix(200))")
      return ""
    } catch let error as CheckpointError {
      XCTAssertEqual(error.kind, .invalidInput)
      XCTAssertTrue(error.message.contains(path), error.message)
      return error.message
    }
  }

  func testOverflowingShapesAndOffsetsAreErrors() throws {
    // The issue's cases: a shape whose byte count overflows, offsets at both ends of Int64.
    XCTAssertTrue(try headerError(#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 16]}}"#)
      .contains("impossibly large shape"))
    XCTAssertTrue(try headerError(#"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [1, -9223372036854775808]}}"#)
      .contains("data offsets"))
    XCTAssertTrue(try headerError(#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [9223372036854775802, 9223372036854775807]}}"#)
      .contains("data offsets"))
    XCTAssertTrue(try headerError(#"{"w": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}}"#)
      .contains("impossibly large shape"))
    XCTAssertTrue(try headerError(#"{"w": {"dtype": "BF16", "shape": [1,1,1,1,1,1,1,1,1,1], "data_offsets": [0, 2]}}"#)
      .contains("impossibly large shape"))
    // A header length prefix of 2^64 - 1 and one just past the file.
    let path = folder + "/prefix.safetensors"
    try FileBytes.writeFile([UInt8](repeating: 0xFF, count: 8) + Array("{}".utf8), to: path)
    XCTAssertThrowsError(try SafetensorsHeader.read(path)) { XCTAssertTrue("\($0)".contains("header length does not fit"), "\($0)") }
  }

  func testATensorOverTwoBillionElementsIsDescribedNotRefused() throws {
    // Real weights have none today, but a header may describe one: the offsets are 64-bit (a sparse file).
    let path = folder + "/big.safetensors"
    let elements = (1 << 31) + 8
    let json = #"{"big": {"dtype": "U8", "shape": [\#(elements)], "data_offsets": [0, \#(elements)]}}"#
    try writeShard(path, json: json, dataBytes: 0)
    XCTAssertEqual(truncate(path, off_t(8 + json.utf8.count + elements)), 0)
    let header = try SafetensorsHeader.read(path)
    XCTAssertEqual(header.entries["big"]?.byteCount, elements)
    XCTAssertEqual(header.entries["big"]?.shape, [elements])
  }

  func testIndexShardsMustBePlainNamesInsideTheFolder() throws {
    for shard in ["../../../../etc/shadow", "/etc/passwd", "..", ".", "sub/x.safetensors", ""] {
      let component = folder + "/index-\(UInt32.random(in: 0...UInt32.max))"
      Paths.copyFolder(Paths.tinyMLP + "/sharded", to: component)
      let index = component + "/diffusion_pytorch_model.safetensors.index.json"
      unlink(index)
      try FileBytes.writeFile(Array(#"{"weight_map": {"norm.weight": "\#(shard)"}}"#.utf8), to: index)
      XCTAssertThrowsError(try ComponentFolder.open(component), shard) { error in
        XCTAssertTrue("\(error)".contains("is not a file name inside the folder"), "\(shard): \(error)")
      }
    }
  }

  func testFIFOsAndFoldersAreNotReadAsFiles() throws {
    let component = folder + "/fifo"
    Paths.copyFolder(Paths.tinyMLP + "/single", to: component)
    unlink(component + "/config.json")
    XCTAssertEqual(mkfifo(component + "/config.json", 0o644), 0)
    // Reading a FIFO would block for ever: this must return at once.
    XCTAssertThrowsError(try ComponentFolder.open(component)) { XCTAssertTrue("\($0)".contains("is not a regular file"), "\($0)") }

    let shardFIFO = folder + "/shard-fifo"
    Paths.copyFolder(Paths.tinyMLP + "/single", to: shardFIFO)
    unlink(shardFIFO + "/diffusion_pytorch_model.safetensors")
    XCTAssertEqual(mkfifo(shardFIFO + "/diffusion_pytorch_model.safetensors", 0o644), 0)
    XCTAssertThrowsError(try ComponentFolder.open(shardFIFO)) { XCTAssertTrue("\($0)".contains("is not a regular file"), "\($0)") }
    XCTAssertThrowsError(try FileBytes.openRegular(shardFIFO + "/diffusion_pytorch_model.safetensors"))
    XCTAssertThrowsError(try FileBytes.openRegular(folder))
  }

  func testErrorsNeverQuoteTheBytesOfAFileLinkedInPlaceOfAShardOrConfig() throws {
    let secret = folder + "/private.txt"
    let content = "SECRET-CONTENT-4f1c9a\nroot:$6$abcdefgh$xyz:19000:0:99999:7:::\n"
    try FileBytes.writeFile(Array(content.utf8), to: secret)
    let marks = ["SECRET", "4f1c9a", "abcdefgh", "root:"]

    let linkedShard = folder + "/linked-shard"
    Paths.copyFolder(Paths.tinyMLP + "/single", to: linkedShard)
    unlink(linkedShard + "/diffusion_pytorch_model.safetensors")
    symlink(secret, linkedShard + "/diffusion_pytorch_model.safetensors")
    XCTAssertThrowsError(try ComponentFolder.open(linkedShard)) { error in
      for mark in marks { XCTAssertFalse("\(error)".contains(mark), "\(error)") }
    }

    // A config linked to the private file, and one that is valid JSON of the wrong shape: the decoding errors name
    // the key, never the characters the parser stopped at.
    for (name, target) in [("linked-config", secret), ("json-config", "")] {
      let component = folder + "/" + name
      Paths.copyFolder(Paths.tinyMLP + "/single", to: component)
      unlink(component + "/config.json")
      if target.isEmpty {
        try FileBytes.writeFile(Array(#"{"hidden_size": "SECRET-CONTENT-4f1c9a"}"#.utf8), to: component + "/config.json")
      } else {
        symlink(target, component + "/config.json")
      }
      struct Sizes: Decodable { var hidden_size: Int }
      let opened = try ComponentFolder.open(component)
      XCTAssertThrowsError(try opened.decodeConfig(Sizes.self)) { error in
        for mark in marks { XCTAssertFalse("\(error)".contains(mark), "\(error)") }
        XCTAssertTrue("\(error)".contains(target.isEmpty ? "hidden_size has the wrong type (expected an integer)" : "is not valid JSON"), "\(error)")
      }
    }
  }
}
