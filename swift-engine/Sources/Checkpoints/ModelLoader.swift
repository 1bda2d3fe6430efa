import MLX
import MLXNN

/// Loading progress: on-disk bytes of the tensors read so far out of all that will be read.
public struct LoadProgress: Sendable {
  public var bytesDone: Int
  public var bytesTotal: Int
}

/// Carries out a LoadPlan tensor by tensor: read straight into MLX memory, re-lay out, cast, quantize, store in
/// the parameter, free the source. Big tensors that are quantized are read and quantized in slices, so the peak
/// stays near the loaded model plus one slice, never a whole shard or a dense copy of the model.
public struct ModelLoader {
  public let plan: LoadPlan
  /// Source bytes read and quantized per slice.
  public var sliceBytes = 64 << 20

  public init(_ plan: LoadPlan) { self.plan = plan }

  public func load(progress: (LoadProgress) -> Void = { _ in }, isCancelled: () -> Bool = { false }) throws {
    let total = plan.readBytes
    var done = 0
    progress(LoadProgress(bytesDone: 0, bytesTotal: total))
    let ordered = plan.items.sorted { ($0.firstLocation.path, $0.firstLocation.offset) < ($1.firstLocation.path, $1.firstLocation.offset) }
    for item in ordered {
      if isCancelled() { throw CheckpointError("loading was cancelled", kind: .cancelled) }
      try load(item)
      done += item.readBytes
      progress(LoadProgress(bytesDone: done, bytesTotal: total))
    }
    try Memory.clearCache()
  }

  private func load(_ item: LoadPlan.Item) throws {
    switch item.source {
    case .quantized(let weight, let scales, let biases, let spec):
      let q = QuantizedWeight(
        weight: try read(weight), scales: try stored(read(scales)), biases: try stored(read(biases)),
        groupSize: spec.groupSize, bits: spec.bits)
      try eval([q.weight, q.scales, q.biases])
      item.parameter.set(q)
    case .dense(let location):
      if let spec = item.quantizeWith {
        item.parameter.set(try quantizeInSlices(location, parameter: item.parameter, spec: spec))
      } else {
        let value = try stored(item.parameter.layout.apply(read(location), shape: item.parameter.shape))
        try eval([value])
        item.parameter.set(value)
      }
    }
  }

  /// The quantized tensor, made slice by slice and joined.
  func quantizeInSlices(_ location: TensorLocation, parameter: Parameter, spec: QuantizationSpec) throws -> QuantizedWeight {
    var parts: [QuantizedWeight] = []
    try SliceQuantizer(sliceBytes: sliceBytes).forEachSlice(location, parameter: parameter, spec: spec) { _, part in
      parts.append(part)
    }
    guard parts.count > 1 else {
      return try QuantizedWeight(
        weight: parts[0].weight, scales: stored(parts[0].scales), biases: stored(parts[0].biases),
        groupSize: spec.groupSize, bits: spec.bits)
    }
    let joined = QuantizedWeight(
      weight: try concatenated(parts.map(\.weight), axis: 0), scales: try stored(concatenated(parts.map(\.scales), axis: 0)),
      biases: try stored(concatenated(parts.map(\.biases), axis: 0)), groupSize: spec.groupSize, bits: spec.bits)
    try eval([joined.weight, joined.scales, joined.biases])
    return joined
  }

  private func read(_ location: TensorLocation) throws -> MLXArray {
    try MLXArray.read(file: location.path, offset: location.offset, dtype: location.dtype, shape: location.entry.shape)
  }

  /// A floating value in the storage dtype.
  private func stored(_ array: MLXArray) throws -> MLXArray {
    guard let dtype = plan.storageDType, array.dtype.isFloatingPoint, array.dtype != dtype else { return array }
    return try array.asType(dtype)
  }
}

/// Quantizes a stored tensor a slice of rows (linear) or experts (stack) at a time, in the checkpoint's dtype.
/// Rows and experts quantize independently, so the slices joined equal the whole tensor quantized at once, and
/// loading and converting give the same bits.
public struct SliceQuantizer {
  public var sliceBytes: Int

  public init(sliceBytes: Int = 64 << 20) { self.sliceBytes = sliceBytes }

  public func forEachSlice(
    _ location: TensorLocation, parameter: Parameter, spec: QuantizationSpec,
    _ body: (_ firstRow: Int, _ part: QuantizedWeight) throws -> Void
  ) throws {
    let shape = location.entry.shape
    let rowBytes = location.byteCount / Swift.max(shape[0], 1)
    let rowsPerSlice = Swift.max(1, sliceBytes / Swift.max(rowBytes, 1))
    var row = 0
    while row < shape[0] {
      let count = Swift.min(rowsPerSlice, shape[0] - row)
      let slice = try MLXArray.read(
        file: location.path, offset: location.offset + row * rowBytes, dtype: location.dtype,
        shape: [count] + shape.dropFirst())
      let part = try parameter.quantizedForm(of: slice, spec)
      try eval([part.weight, part.scales, part.biases])
      try body(row, part)
      row += count
    }
  }
}

extension LoadPlan.Item {
  public var firstLocation: TensorLocation {
    switch source {
    case .dense(let location): location
    case .quantized(let weight, _, _, _): weight
    }
  }

  public var readBytes: Int {
    switch source {
    case .dense(let location): location.byteCount
    case .quantized(let w, let s, let b, _): w.byteCount + s.byteCount + b.byteCount
    }
  }
}
