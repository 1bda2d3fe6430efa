import MLX
import MLXNN

/// Writes a component quantized per its LoadPlan into a folder, tensor by tensor: quantized tensors slice by
/// slice, everything else copied byte for byte (holes stay holes). Peak memory is one slice, whatever the size of
/// the checkpoint. The folder records the quantization in config.json, so loading it needs no options.
public struct ComponentConverter {
  public var sliceBytes = 64 << 20
  /// The release's shards are about 5 GB.
  public var maxShardBytes = 5_000_000_000

  public init() {}

  /// Source bytes a conversion of `plan` reads (for progress).
  public static func sourceBytes(_ plan: LoadPlan) -> Int {
    plan.readBytes + plan.unreadKeys.reduce(0) { $0 + (plan.folder.location(of: $1)?.byteCount ?? 0) }
  }

  /// Writes into the existing, empty `directory`; `progress` gets source bytes processed so far.
  public func convert(
    _ plan: LoadPlan, to directory: String, progress: (Int) -> Void = { _ in }, isCancelled: () -> Bool = { false }
  ) throws {
    enum Work {
      case quantize(LoadPlan.Item, TensorLocation, QuantizationSpec, weight: String, scales: String, biases: String)
      case copy(String, TensorLocation)
    }
    var units: [[SafetensorsWriter.Tensor]] = []
    var work: [String: Work] = [:]
    func copy(_ location: TensorLocation) {
      units.append([.init(key: location.key, dtype: location.dtype, shape: location.entry.shape)])
      work[location.key] = .copy(location.key, location)
    }
    for item in plan.items {
      switch item.source {
      case .dense(let location):
        guard let spec = item.quantizeWith, let shapes = item.parameter.quantizedShapes(spec) else {
          copy(location)
          continue
        }
        let base = location.key.hasSuffix(".weight") ? String(location.key.dropLast(".weight".count)) : location.key
        units.append([
          .init(key: location.key, dtype: .uint32, shape: shapes.weight),
          .init(key: base + ".scales", dtype: location.dtype, shape: shapes.groups),
          .init(key: base + ".biases", dtype: location.dtype, shape: shapes.groups),
        ])
        work[location.key] = .quantize(item, location, spec, weight: location.key, scales: base + ".scales", biases: base + ".biases")
      case .quantized(let weight, let scales, let biases, _):
        [weight, scales, biases].forEach(copy)
      }
    }
    for key in plan.unreadKeys {
      guard let location = plan.folder.location(of: key) else {
        throw CheckpointError("\(plan.folder.directory): \(key) has a dtype the engine cannot copy")
      }
      copy(location)
    }

    let layout = ShardLayout(units: units, stem: plan.folder.fileStem, maxShardBytes: maxShardBytes)
    var done = 0
    for shard in layout.shards {
      let writer = try SafetensorsWriter(path: directory + "/" + shard.name, tensors: shard.tensors)
      for tensor in shard.tensors {
        if isCancelled() { throw CheckpointError("the conversion was cancelled", kind: .cancelled) }
        switch work[tensor.key] {
        case .quantize(let item, let location, let spec, let weightKey, let scalesKey, let biasesKey)?:
          let (rows, weightRow, groupRow) = (
            location.entry.shape[0], tensor.byteCount / location.entry.shape[0],
            shard.tensors.first { $0.key == scalesKey }!.byteCount / location.entry.shape[0])
          try SliceQuantizer(sliceBytes: sliceBytes).forEachSlice(location, parameter: item.parameter, spec: spec) { row, part in
            try writer.write(weightKey, array: part.weight, at: row * weightRow)
            try writer.write(scalesKey, array: part.scales, at: row * groupRow)
            try writer.write(biasesKey, array: part.biases, at: row * groupRow)
            done += location.byteCount * part.weight.shape[0] / rows
            progress(done)
          }
          try Memory.clearCache()
        case .copy(_, let location)?:
          try writer.copy(tensor.key, from: location)
          done += location.byteCount
          progress(done)
        case nil:
          continue  // scales and biases are written with their weight
        }
      }
      try writer.finish()
    }
    if let index = try layout.index() { try FileBytes.writeFile(index, to: directory + "/" + layout.indexName) }
    try FileBytes.writeFile(
      try JSONValue.encodePretty(plan.folder.config.recording(plan.quantization)), to: directory + "/config.json")
    for name in try FileBytes.listDirectory(plan.folder.directory) where !plan.folder.isTensorFile(name) && name != "config.json" {
      try FileTree.linkOrCopy(from: plan.folder.directory + "/" + name, to: directory + "/" + name)
    }
  }
}

extension ComponentFolder {
  /// Where tensor `key` is stored, when its dtype is one the engine knows.
  public func location(of key: String) -> TensorLocation? {
    guard let shard = weightMap[key], let header = shards[shard], let entry = header.entries[key],
      let dtype = SafetensorsHeader.dtype(of: entry.dtype)
    else { return nil }
    return TensorLocation(path: path(of: shard), key: key, entry: entry, offset: header.fileOffset(of: entry), dtype: dtype)
  }

  /// The folder's shard and index files.
  public func isTensorFile(_ name: String) -> Bool {
    shards[name] != nil || name.hasSuffix(".safetensors.index.json")
  }
}
