#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import MLX
import MLXNN

/// Which quantization to apply while loading (nil: keep as stored).
public struct QuantizationChoice: Sendable, Equatable {
  public var linear: QuantizationSpec?
  public var experts: QuantizationSpec?

  public init(linear: QuantizationSpec? = nil, experts: QuantizationSpec? = nil) {
    self.linear = linear
    self.experts = experts
  }

  public var isEmpty: Bool { linear == nil && experts == nil }

  public func spec(for kind: QuantizationKind) -> QuantizationSpec? { kind == .linear ? linear : experts }
}

/// Where one stored tensor is.
public struct TensorLocation: Sendable {
  public var path: String
  public var key: String
  public var entry: SafetensorsHeader.Entry
  public var offset: Int
  public var dtype: DType

  public var byteCount: Int { entry.byteCount }
}

/// How every parameter of a module is filled from a component folder, worked out from the headers alone: names,
/// shapes and dtypes are checked (all problems reported at once) and the resident size is known before a single
/// tensor byte is read.
public struct LoadPlan: Sendable {
  public enum Source: Sendable {
    case dense(TensorLocation)
    case quantized(weight: TensorLocation, scales: TensorLocation, biases: TensorLocation, spec: QuantizationSpec)
  }

  public struct Item: @unchecked Sendable {
    public let path: String
    public let parameter: Parameter
    public let source: Source
    /// Quantize this dense tensor while loading.
    public let quantizeWith: QuantizationSpec?
  }

  public let folder: ComponentFolder
  public let items: [Item]
  /// Floating-point values are stored in this dtype once loaded (nil: as in the checkpoint).
  public let storageDType: DType?
  /// Stored tensors no parameter reads (unused by design), by key.
  public let unreadKeys: [String]
  /// The quantization the loaded component ends up with (recorded in the folder or applied at load).
  public let quantization: QuantizationRecord?

  /// Matches `module`'s parameters (named `keyPrefix + path`) with the folder's tensors. `isUnused(key)` names the
  /// stored tensors the model deliberately does not read. A folder that records a quantization is loaded as it is;
  /// asking to quantize it again is an error.
  public init(
    module: any Module, folder: ComponentFolder, keyPrefix: String = "", isUnused: (String) -> Bool = { _ in false },
    storageDType: DType? = nil, quantize choice: QuantizationChoice = QuantizationChoice()
  ) throws {
    let recorded = try folder.recordedQuantization()
    if recorded != nil && !choice.isEmpty {
      throw CheckpointError("\(folder.directory) is already quantized (its config.json records it): load it without asking for quantization")
    }
    self.folder = folder
    self.storageDType = storageDType
    var items: [Item] = []
    var claimed = Set<String>()
    var missing: [String] = []
    var mismatched: [String] = []
    var applied = QuantizationChoice()

    func location(_ key: String) -> TensorLocation? { folder.location(of: key) }
    func check(_ found: TensorLocation, shape: [Int], floating: Bool) -> Bool {
      var problems: [String] = []
      if found.entry.shape != shape { problems.append("shape \(found.entry.shape), expected \(shape)") }
      if floating != found.dtype.isFloatingPoint || (!floating && found.dtype != .uint32) {
        problems.append("dtype \(found.entry.dtype), expected \(floating ? "a float type" : "U32")")
      }
      if !problems.isEmpty { mismatched.append("\(found.key): \(problems.joined(separator: ", "))") }
      return problems.isEmpty
    }

    for (path, parameter) in module.parameters() {
      let key = keyPrefix + path
      let base = key.hasSuffix(".weight") ? String(key.dropLast(".weight".count)) : key
      if let kind = parameter.quantization, folder.weightMap[base + ".scales"] != nil {
        claimed.formUnion([key, base + ".scales", base + ".biases"])
        guard let spec = recorded?.spec(for: kind), let shapes = parameter.quantizedShapes(spec) else {
          mismatched.append("\(key) is stored quantized but config.json records no \(kind == .linear ? "linear" : "expert") quantization")
          continue
        }
        guard let weight = location(key), let scales = location(base + ".scales"), let biases = location(base + ".biases") else {
          missing.append(folder.weightMap[key] == nil ? key : base + ".biases")
          continue
        }
        let fits = [check(weight, shape: shapes.weight, floating: false), check(scales, shape: shapes.groups, floating: true),
                    check(biases, shape: shapes.groups, floating: true)].allSatisfy { $0 }
        if fits { items.append(Item(path: path, parameter: parameter, source: .quantized(weight: weight, scales: scales, biases: biases, spec: spec), quantizeWith: nil)) }
        continue
      }
      claimed.insert(key)
      guard let found = location(key) else {
        missing.append(key)
        continue
      }
      guard check(found, shape: parameter.checkpointShape, floating: true) else { continue }
      var quantizeWith: QuantizationSpec?
      if let kind = parameter.quantization, let spec = choice.spec(for: kind), parameter.canQuantize(spec) {
        quantizeWith = spec
        if kind == .linear { applied.linear = spec } else { applied.experts = spec }
      }
      items.append(Item(path: path, parameter: parameter, source: .dense(found), quantizeWith: quantizeWith))
    }

    let unclaimed = folder.weightMap.keys.filter { !claimed.contains($0) }
    let unexpected = unclaimed.filter { !isUnused($0) }.sorted()
    if !missing.isEmpty || !unexpected.isEmpty || !mismatched.isEmpty {
      var parts: [String] = []
      if !missing.isEmpty { parts.append("missing \(missing.count): \(summarized(missing.sorted()))") }
      if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count): \(summarized(unexpected))") }
      if !mismatched.isEmpty { parts.append("mismatched \(mismatched.count): \(summarized(mismatched.sorted()))") }
      throw CheckpointError("\(folder.directory): the tensors do not fit the model's config: \(parts.joined(separator: "; "))")
    }
    self.items = items
    self.unreadKeys = unclaimed.filter(isUnused).sorted()
    self.quantization = recorded ?? (applied.isEmpty ? nil : QuantizationRecord(linear: applied.linear, experts: applied.experts))
  }

  /// Bytes read from disk.
  public var readBytes: Int { items.reduce(0) { $0 + $1.readBytes } }

  /// Bytes the loaded parameters will occupy.
  public var residentBytes: Int {
    items.reduce(0) { total, item in
      let elements = item.parameter.elementCount
      switch item.source {
      case .dense(let location):
        let element = storageDType?.size ?? location.dtype.size
        guard let spec = item.quantizeWith else { return total + elements * element }
        return total + elements * spec.bits / 8 + 2 * (elements / spec.groupSize) * element
      case .quantized(let weight, let scales, _, _):
        return total + weight.byteCount + 2 * scales.entry.shape.reduce(1, *) * (storageDType?.size ?? scales.dtype.size)
      }
    }
  }

  /// Parameters of the tensors read, counted as the checkpoint stores them (a quantized tensor by the elements it
  /// stands for; a causal 3-D convolution with all its temporal taps, though only the last one is kept).
  public var parameterCount: Int {
    items.reduce(0) { total, item in
      switch item.source {
      case .dense(let location): total + location.entry.shape.reduce(1, *)
      case .quantized: total + item.parameter.elementCount
      }
    }
  }
}

extension QuantizationRecord {
  public func spec(for kind: QuantizationKind) -> QuantizationSpec? { kind == .linear ? linear : experts }
}

extension ComponentFolder {
  /// The quantization a pre-quantized folder's config.json records, if any.
  public func recordedQuantization() throws -> QuantizationRecord? {
    guard let record = try config["quantization"] else { return nil }
    let decoded: QuantizationRecord
    do {
      decoded = try JSONDecoder().decode(QuantizationRecord.self, from: Data(try JSONValue.encodePretty(record)))
    } catch {
      throw CheckpointError("\(directory)/config.json has a quantization entry that is not {linear, experts, format}")
    }
    for spec in [decoded.linear, decoded.experts].compactMap({ $0 })
    where ![4, 8].contains(spec.bits) || ![32, 64, 128].contains(spec.groupSize) {
      throw CheckpointError("\(directory)/config.json records \(spec.bits)-bit quantization in groups of \(spec.groupSize); the engine reads 4 or 8 bits in groups of 32, 64 or 128")
    }
    return decoded
  }
}
