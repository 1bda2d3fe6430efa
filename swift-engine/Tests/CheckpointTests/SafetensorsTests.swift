import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN

final class SafetensorsTests: XCTestCase {
  func testRoundTripKeepsValuesDtypesAndMetadata() throws {
    let folder = Paths.temporaryFolder("roundtrip")
    defer { _ = system("rm -rf '\(folder)'") }
    let arrays: [String: MLXArray] = [
      "f32": try MLXArray([1.5, -2, 3.25, 4] as [Float], [2, 2]),
      "bf16": try MLXArray([0.1, 0.2, 0.3] as [Float], [3]).asType(.bfloat16),
      "i32": try MLXArray([7, -8] as [Int32], [2]),
      "u8": try MLXArray([1, 255] as [UInt8], [2]),
      "flags": try MLXArray([true, false, true] as [Bool], [3]),
    ]
    let path = folder + "/t.safetensors"
    try saveSafetensors(path: path, arrays: arrays, metadata: ["format": "pt", "note": "round trip"])
    let header = try SafetensorsHeader.read(path)
    XCTAssertEqual(header.entries["bf16"]?.dtype, "BF16")
    XCTAssertEqual(header.entries["f32"]?.shape, [2, 2])
    let loaded = try loadSafetensors(path: path)
    XCTAssertEqual(loaded.metadata["note"], "round trip")
    for (name, array) in arrays {
      XCTAssertEqual(loaded.arrays[name]?.dtype, array.dtype, name)
      XCTAssertEqual(try loaded.arrays[name]?.bytes(), try array.bytes(), name)
    }
  }

  func testTruncatedShardIsDetectedAndNamed() throws {
    let folder = Paths.temporaryFolder("truncated")
    defer { _ = system("rm -rf '\(folder)'") }
    Paths.copyFolder(Paths.tinyMLP + "/sharded", to: folder + "/c")
    let shard = folder + "/c/diffusion_pytorch_model-00002-of-00003.safetensors"
    XCTAssertEqual(truncate(shard, off_t(FileBytes.size(shard)! - 10)), 0)
    XCTAssertThrowsError(try ComponentFolder.open(folder + "/c")) { error in
      let text = "\(error)"
      XCTAssertTrue(text.contains("diffusion_pytorch_model-00002-of-00003.safetensors"), text)
      XCTAssertTrue(text.contains("truncated"), text)
    }
  }

  func testCorruptHeaderMissingShardAndInconsistentIndexAreErrors() throws {
    let folder = Paths.temporaryFolder("corrupt")
    defer { _ = system("rm -rf '\(folder)'") }

    Paths.copyFolder(Paths.tinyMLP + "/single", to: folder + "/garbage")
    unlink(folder + "/garbage/diffusion_pytorch_model.safetensors")
    try FileBytes.writeFile(Array(repeating: 0x7B, count: 64), to: folder + "/garbage/diffusion_pytorch_model.safetensors")
    XCTAssertThrowsError(try ComponentFolder.open(folder + "/garbage")) { error in
      XCTAssertTrue("\(error)".contains("not a valid safetensors file"), "\(error)")
    }

    Paths.copyFolder(Paths.tinyMLP + "/sharded", to: folder + "/missing")
    unlink(folder + "/missing/diffusion_pytorch_model-00003-of-00003.safetensors")
    XCTAssertThrowsError(try ComponentFolder.open(folder + "/missing")) { error in
      XCTAssertTrue("\(error)".contains("00003-of-00003.safetensors is missing"), "\(error)")
    }

    Paths.copyFolder(Paths.tinyMLP + "/sharded", to: folder + "/moved")
    let indexPath = folder + "/moved/diffusion_pytorch_model.safetensors.index.json"
    let text = String(decoding: try FileBytes.readFile(indexPath), as: UTF8.self)
    let edited = text.replacingOccurrences(
      of: "\"norm.weight\": \"diffusion_pytorch_model-00003-of-00003.safetensors\"",
      with: "\"norm.weight\": \"diffusion_pytorch_model-00001-of-00003.safetensors\"")
    XCTAssertNotEqual(edited, text)
    unlink(indexPath)
    try FileBytes.writeFile(Array(edited.utf8), to: indexPath)
    XCTAssertThrowsError(try ComponentFolder.open(folder + "/moved")) { error in
      XCTAssertTrue("\(error)".contains("do not contain them: norm.weight (in diffusion_pytorch_model-00001"), "\(error)")
    }

    XCTAssertThrowsError(try ComponentFolder.open(folder + "/nowhere")) { error in
      XCTAssertTrue("\(error)".contains("is not a folder"), "\(error)")
    }
  }

  func testShardedFolderLoadsLikeTheSingleFile() throws {
    let sharded = try ComponentFolder.open(Paths.tinyMLP + "/sharded")
    let single = try ComponentFolder.open(Paths.tinyMLP + "/single")
    XCTAssertEqual(sharded.shards.count, 3)
    XCTAssertEqual(single.shards.count, 1)
    XCTAssertEqual(sharded.fileStem, "diffusion_pytorch_model")
    XCTAssertEqual(sharded.tensorBytes, single.tensorBytes)
    let a = try TinyMLP.load(Paths.tinyMLP + "/sharded")
    let b = try TinyMLP.load(Paths.tinyMLP + "/single")
    for ((path, x), (_, y)) in zip(a.parameters(), b.parameters()) {
      XCTAssertEqual(x.arrays.first?.dtype, .bfloat16, path)
      XCTAssertEqual(try x.arrays.first!.bytes(), try y.arrays.first!.bytes(), path)
    }
  }

  func testStorageDtypeProgressAndUnusedKeys() throws {
    let folder = try ComponentFolder.open(Paths.tinyMLP + "/sharded")
    let module = TinyMLP(experts: false)
    let plan = try LoadPlan(
      module: module, folder: folder, isUnused: { $0.hasPrefix("experts.") }, storageDType: .float32)
    XCTAssertEqual(plan.unreadKeys, ["experts.gate_up_proj"])
    XCTAssertEqual(plan.residentBytes, (64 * 128 + 64 + 32 * 64 + 32) * 4)
    var reports: [LoadProgress] = []
    try ModelLoader(plan).load(progress: { reports.append($0) })
    XCTAssertTrue(module.parameters().allSatisfy { $0.parameter.arrays.first?.dtype == .float32 })
    XCTAssertEqual(module.nbytes, plan.residentBytes)
    let expectedBytes = (64 * 128 + 64 + 32 * 64 + 32) * 2
    XCTAssertEqual(reports.last?.bytesDone, expectedBytes)
    XCTAssertEqual(reports.last?.bytesTotal, expectedBytes)
    XCTAssertEqual(reports.map(\.bytesDone), reports.map(\.bytesDone).sorted())
    XCTAssertGreaterThan(reports.count, 3)
  }
}
