#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import MLX
import MLXNN

/// Loading progress: on-disk bytes of the tensors read so far out of all that will be read.
public struct LoadProgress: Sendable {
  public var bytesDone: Int
  public var bytesTotal: Int
}

/// Reads a component's tensors into MLX: only the keys asked for, cast to the compute dtype, quantized per plan.
/// Quantized tensors come out under the same names as in a pre-quantized folder (`k`, `k.scales`, `k.biases`),
/// so models build the same way from either.
public struct ComponentLoader {
  public var folder: ComponentFolder
  /// Floating-point tensors are cast to this dtype (nil keeps the checkpoint's).
  public var dtype: DType?
  public var plan: QuantizationPlan?
  /// Tensors to read (all when nil).
  public var include: ((String) -> Bool)?
  /// How many bytes to materialise per evaluation (bounds peak memory during casts and quantization).
  public var chunkBytes = 512 << 20

  public init(folder: ComponentFolder, dtype: DType? = nil, plan: QuantizationPlan? = nil, include: ((String) -> Bool)? = nil) {
    self.folder = folder
    self.dtype = dtype
    self.plan = plan
    self.include = include
  }

  /// The quantization the folder's config.json records (a pre-quantized folder), if any.
  public func recordedQuantization() throws -> QuantizationRecord? {
    guard let record = try folder.config["quantization"] else { return nil }
    let data = try JSONValue.encodePretty(record)
    return try JSONDecoder().decode(QuantizationRecord.self, from: Data(data))
  }

  public func selectedKeys() -> [String] {
    folder.weightMap.keys.filter { include?($0) ?? true }.sorted()
  }

  public func load(progress: (LoadProgress) -> Void = { _ in }) throws -> [String: MLXArray] {
    if let plan, !plan.isEmpty, try recordedQuantization() != nil {
      throw CheckpointError("\(folder.directory) is already quantized: load it without a quantization plan")
    }
    let keys = selectedKeys()
    let total = keys.reduce(0) { $0 + entry($1).byteCount }
    var loaded: [String: MLXArray] = [:]
    var done = 0
    progress(LoadProgress(bytesDone: 0, bytesTotal: total))

    let byShard = Dictionary(grouping: keys) { folder.weightMap[$0]! }
    for shard in byShard.keys.sorted() {
      let contents = try loadSafetensors(path: folder.path(of: shard))
      var pending: [MLXArray] = []
      var pendingBytes = 0
      for key in byShard[shard]!.sorted() {
        guard let array = contents.arrays[key] else {
          throw CheckpointError("\(folder.path(of: shard)): MLX did not find \(key) in the file")
        }
        let header = entry(key)
        guard SafetensorsHeader.dtype(of: header.dtype) != nil else {
          throw CheckpointError("\(folder.path(of: shard)): \(key) has dtype \(header.dtype), which the engine cannot use")
        }
        for (name, value) in try prepare(key, array) {
          loaded[name] = value
          pending.append(value)
        }
        pendingBytes += header.byteCount
        if pendingBytes >= chunkBytes {
          try eval(pending)
          done += pendingBytes
          progress(LoadProgress(bytesDone: done, bytesTotal: total))
          pending.removeAll()
          pendingBytes = 0
        }
      }
      try eval(pending)
      done += pendingBytes
      progress(LoadProgress(bytesDone: done, bytesTotal: total))
    }
    return loaded
  }

  private func entry(_ key: String) -> SafetensorsHeader.Entry {
    folder.shards[folder.weightMap[key]!]!.entries[key]!
  }

  /// Casts and, per plan, quantizes one tensor; returns the tensors to store under their names.
  private func prepare(_ key: String, _ array: MLXArray) throws -> [(String, MLXArray)] {
    var value = array
    if let dtype, value.dtype.isFloatingPoint { value = try value.asType(dtype) }
    guard let (kind, spec) = plan?.spec(for: key, shape: value.shape) else { return [(key, value)] }
    let quantizedWeight: QuantizedWeight
    switch kind {
    case .linear:
      quantizedWeight = try quantized(value, groupSize: spec.groupSize, bits: spec.bits)
    case .experts:
      guard case .quantized(let q) = try ExpertWeights.quantize(value, groupSize: spec.groupSize, bits: spec.bits)
      else { return [(key, value)] }
      quantizedWeight = q
    }
    let base = key.hasSuffix(".weight") ? String(key.dropLast(".weight".count)) : key
    return [(key, quantizedWeight.weight), (base + ".scales", quantizedWeight.scales), (base + ".biases", quantizedWeight.biases)]
  }
}
