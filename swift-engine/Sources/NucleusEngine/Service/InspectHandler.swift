import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

extension EngineService {
  func inspectModel(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "InspectModelRequest", nucleus__engine__v1__inspect_model_request__unpack)
    let message = decoded.message
    let directory = try LoadRequest.directory(string(message.model_dir), raw: request, field: 1, name: "model_dir")
    let load = try LoadRequest(modelDirectory: directory, options: message.options?.pointee)
    let (width, height) = (message.width == 0 ? 1024 : Int(message.width), message.height == 0 ? 1024 : Int(message.height))
    guard (16...16384).contains(width), (16...16384).contains(height) else {
      throw RPCError(.invalidArgument, "width and height must be 16 to 16384 pixels, not \(width)×\(height)")
    }
    let estimator = MemoryEstimator(load: load, width: width, height: height)
    let limit = try MemoryBudget.effectiveLimit(requested: load.memoryLimit)

    let arena = CArena()
    var components: [UnsafeMutablePointer<Nucleus__Engine__V1__ComponentEstimate>?] = []
    for (name, folderPath) in [("transformer", load.transformerDirectory), ("vae", load.vaeDirectory), ("text_encoder", load.textEncoderDirectory)] {
      guard let folderPath else { continue }
      let folder = try ComponentFolder.open(folderPath)
      let footprint: MemoryEstimator.Footprint?
      let loaded: Int
      switch name {
      case "transformer":
        footprint = try estimator.transformer(nil)
        loaded = try NucleusTransformer.planned(folder, dtype: .float32).plan.parameterCount
      case "vae":
        footprint = try estimator.vae()
        loaded = try VAEDecoder.planned(folder, dtype: .float32).plan.parameterCount
      default:
        footprint = try estimator.textEncoder(nil)
        let depth = try folder.decodeConfig(TextEncoderConfig.self).hiddenStateIndex(load.textHiddenLayer)
        loaded = try Qwen3TextEncoder.planned(folder, depth: depth, dtype: .float32).plan.parameterCount
      }
      guard let footprint else {
        throw RPCError(.invalidArgument, "\(folderPath) is already quantized: inspect it without asking for quantization")
      }
      var estimate = Nucleus__Engine__V1__ComponentEstimate()
      nucleus__engine__v1__component_estimate__init(&estimate)
      estimate.name = arena.string(name)
      estimate.parameter_count = UInt64(loaded)
      estimate.checkpoint_parameter_count = UInt64(folder.logicalParameterCount(try folder.recordedQuantization()))
      estimate.disk_bytes = UInt64(FileTree.allocatedBytes(folderPath))
      estimate.stored_dtype = arena.string("\(folder.floatingDType)")
      estimate.quantization = arena.string(LoadRequest.describe(try folder.recordedQuantization()))
      estimate.resident_bytes = UInt64(footprint.resident)
      estimate.working_bytes = UInt64(footprint.working)
      components.append(arena.object(estimate))
    }

    var plans: [UnsafeMutablePointer<Nucleus__Engine__V1__MemoryPlan>?] = []
    func addPlan(transformer: QuantizationSpec?, text: QuantizationSpec?, lowMemory: Bool, requested: Bool) throws {
      let transformerChoice = requested ? nil : QuantizationChoice(linear: transformer, experts: transformer)
      let textChoice = requested ? nil : QuantizationChoice(linear: text)
      guard let t = try estimator.transformer(transformerChoice), let x = try estimator.textEncoder(textChoice) else { return }
      var plan = Nucleus__Engine__V1__MemoryPlan()
      nucleus__engine__v1__memory_plan__init(&plan)
      plan.transformer = transformer.map { arena.object(quantizationMessage($0)) }
      plan.text_encoder = text.map { arena.object(quantizationMessage($0)) }
      plan.low_memory = lowMemory ? 1 : 0
      let peak = MemoryEstimator.peak(transformer: t, vae: try estimator.vae(), text: x, lowMemory: lowMemory, limit: limit)
      plan.peak_bytes = UInt64(peak.bytes)
      plan.fits = peak.bytes <= limit ? 1 : 0
      plan.decode_alone = peak.decodeAlone ? 1 : 0
      plan.requested = requested ? 1 : 0
      plans.append(arena.object(plan))
    }
    try addPlan(
      transformer: load.expertQuantization ?? load.linearQuantization, text: load.textQuantization,
      lowMemory: load.unloadTextEncoderAfterEncode, requested: true)
    for bits in [nil, 8, 4] as [Int?] {
      for textBits in [nil, 8, 4] as [Int?] {
        for lowMemory in [false, true] {
          try addPlan(
            transformer: bits.map { QuantizationSpec(bits: $0) }, text: textBits.map { QuantizationSpec(bits: $0) },
            lowMemory: lowMemory, requested: false)
        }
      }
    }

    var response = Nucleus__Engine__V1__InspectModelResponse()
    nucleus__engine__v1__inspect_model_response__init(&response)
    response.model_dir = arena.string(directory)
    response.n_components = components.count
    response.components = arena.array(components)
    response.n_plans = plans.count
    response.plans = arena.array(plans)
    response.limit_bytes = UInt64(limit)
    response.total_bytes = HostInfo.physicalMemoryBytes
    response.backend = arena.string(Device.backend)
    return packMessage(&response)
  }
}

func quantizationMessage(_ spec: QuantizationSpec) -> Nucleus__Engine__V1__Quantization {
  var message = Nucleus__Engine__V1__Quantization()
  nucleus__engine__v1__quantization__init(&message)
  message.bits = UInt32(spec.bits)
  message.group_size = UInt32(spec.groupSize)
  return message
}

extension ComponentFolder {
  /// Parameters the folder holds, counting a quantized weight by the elements it stands for.
  func logicalParameterCount(_ record: QuantizationRecord?, where include: (String) -> Bool = { _ in true }) -> Int {
    weightMap.keys.filter(include).reduce(0) { total, key in
      guard !key.hasSuffix(".scales"), !key.hasSuffix(".biases"), let location = location(of: key) else { return total }
      let elements = location.entry.shape.reduce(1, *)
      let base = key.hasSuffix(".weight") ? String(key.dropLast(".weight".count)) : key
      guard weightMap[base + ".scales"] != nil, location.dtype == .uint32 else { return total + elements }
      let bits = (location.entry.shape.count == 3 ? record?.experts : record?.linear)?.bits ?? 32
      return total + elements * 32 / bits
    }
  }
}
