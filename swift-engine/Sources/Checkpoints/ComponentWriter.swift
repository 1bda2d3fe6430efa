#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import MLX

/// Writes in-memory arrays as a component folder in the release layout (config.json, sharded safetensors,
/// index), e.g. test checkpoints. Written beside the target and renamed into place when complete.
public struct ComponentWriter {
  public var maxShardBytes = 4 << 30

  public init(maxShardBytes: Int = 4 << 30) { self.maxShardBytes = maxShardBytes }

  /// Saves `arrays` to `directory` with `config` (a source config.json) plus the `quantization` record.
  public func write(
    arrays: [String: MLXArray], config: JSONValue, quantization: QuantizationRecord?, fileStem: String,
    to directory: String, overwrite: Bool = false
  ) throws {
    let staging = try FolderStaging(target: directory, overwrite: overwrite)
    try FileBytes.writeFile(try JSONValue.encodePretty(config.recording(quantization)), to: staging.path + "/config.json")
    let layout = ShardLayout(
      tensors: arrays.map { SafetensorsWriter.Tensor(key: $0.key, dtype: $0.value.dtype, shape: $0.value.shape) },
      stem: fileStem, maxShardBytes: maxShardBytes)
    for shard in layout.shards {
      let writer = try SafetensorsWriter(path: staging.path + "/" + shard.name, tensors: shard.tensors)
      for tensor in shard.tensors { try writer.write(tensor.key, array: arrays[tensor.key]!) }
      try writer.finish()
    }
    if let index = try layout.index() { try FileBytes.writeFile(index, to: staging.path + "/" + layout.indexName) }
    try staging.commit()
  }
}

extension JSONValue {
  /// A config object with `quantization` set to `record` (or removed when nil).
  public func recording(_ record: QuantizationRecord?) throws -> JSONValue {
    guard case .object(var fields) = self else { return self }
    if let record {
      fields["quantization"] = try JSONDecoder().decode(JSONValue.self, from: Data(try JSONValue.encodePretty(record)))
    } else {
      fields.removeValue(forKey: "quantization")
    }
    return .object(fields)
  }
}
