#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import MLX

/// Writes a component folder in the release layout (config.json, sharded safetensors, index), e.g. a quantized
/// copy so that a 34 GB checkpoint is quantized once. The folder is written beside the target and renamed into
/// place at the end; an existing target is never overwritten unless asked.
public struct ComponentWriter {
  public var maxShardBytes = 4 << 30

  public init(maxShardBytes: Int = 4 << 30) { self.maxShardBytes = maxShardBytes }

  /// Saves `arrays` to `directory` with `config` (the source config.json) plus the `quantization` record.
  public func write(
    arrays: [String: MLXArray], config: JSONValue, quantization: QuantizationRecord?, fileStem: String,
    to directory: String, overwrite: Bool = false
  ) throws {
    if FileBytes.size(directory) != nil {
      guard overwrite else { throw CheckpointError("\(directory) already exists: choose another folder or allow overwriting") }
    }
    let staging = directory + ".partial-\(getpid())"
    try removeTree(staging)
    guard mkdir(staging, 0o755) == 0 else { throw CheckpointError("cannot create \(staging): \(String(cString: strerror(errno)))") }

    var finalConfig = config
    if case .object(var fields) = config {
      if let quantization {
        let recordBytes = try JSONValue.encodePretty(quantization)
        fields["quantization"] = try JSONDecoder().decode(JSONValue.self, from: Data(recordBytes))
      } else {
        fields.removeValue(forKey: "quantization")
      }
      finalConfig = .object(fields)
    }
    try FileBytes.writeFile(try JSONValue.encodePretty(finalConfig), to: staging + "/config.json")

    let shards = plan(arrays)
    var weightMap: [String: String] = [:]
    var totalSize = 0
    for (index, keys) in shards.enumerated() {
      let name = shards.count == 1
        ? "\(fileStem).safetensors"
        : "\(fileStem)-\(pad(index + 1))-of-\(pad(shards.count)).safetensors"
      var subset: [String: MLXArray] = [:]
      for key in keys {
        subset[key] = arrays[key]
        weightMap[key] = name
        totalSize += arrays[key]!.nbytes
      }
      try saveSafetensors(path: staging + "/" + name, arrays: subset, metadata: ["format": "pt"])
    }
    if shards.count > 1 {
      let index = JSONValue.object([
        "metadata": .object(["total_size": .integer(totalSize)]),
        "weight_map": .object(weightMap.mapValues { .string($0) }),
      ])
      try FileBytes.writeFile(try JSONValue.encodePretty(index), to: staging + "/\(fileStem).safetensors.index.json")
    }
    try removeTree(directory)
    guard rename(staging, directory) == 0 else {
      throw CheckpointError("cannot move \(staging) to \(directory): \(String(cString: strerror(errno)))")
    }
  }

  /// Groups keys (sorted) into shards of at most maxShardBytes.
  private func plan(_ arrays: [String: MLXArray]) -> [[String]] {
    var shards: [[String]] = [[]]
    var size = 0
    for key in arrays.keys.sorted() {
      let bytes = arrays[key]!.nbytes
      if size + bytes > maxShardBytes && !shards[shards.count - 1].isEmpty {
        shards.append([])
        size = 0
      }
      shards[shards.count - 1].append(key)
      size += bytes
    }
    return shards
  }

  private func pad(_ number: Int) -> String {
    let text = String(number)
    return String(repeating: "0", count: Swift.max(0, 5 - text.count)) + text
  }

  private func removeTree(_ path: String) throws {
    guard FileBytes.size(path) != nil else { return }
    if FileBytes.isDirectory(path) {
      for name in try FileBytes.listDirectory(path) { try removeTree(path + "/" + name) }
      guard rmdir(path) == 0 else { throw CheckpointError("cannot remove \(path)") }
    } else {
      guard unlink(path) == 0 else { throw CheckpointError("cannot remove \(path)") }
    }
  }
}
