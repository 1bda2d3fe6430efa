import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

extension EngineService {
  /// Writes a pre-quantized copy of a model folder: the transformer (and, when asked, the text encoder) quantized
  /// tensor by tensor, every other file hard-linked (or copied). The copy is written under a hidden name beside the
  /// target and renamed into place at the end; an interrupted or failed conversion leaves nothing behind.
  func convertModel(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "ConvertModelRequest", nucleus__engine__v1__convert_model_request__unpack)
    let message = decoded.message
    let source = try LoadRequest.directory(string(message.source_dir), raw: request, field: 1, name: "source_dir")
    let target = try LoadRequest.directory(string(message.target_dir), raw: request, field: 2, name: "target_dir")
    let transformerChoice = QuantizationChoice(
      linear: try LoadRequest.quantization(message.transformer, field: "transformer"),
      experts: try LoadRequest.quantization(message.experts, field: "experts"))
    let textChoice = QuantizationChoice(linear: try LoadRequest.quantization(message.text_encoder, field: "text_encoder"))
    guard !transformerChoice.isEmpty || !textChoice.isEmpty else {
      throw RPCError(.invalidArgument, "nothing to convert: ask for transformer, experts or text_encoder quantization")
    }
    let folders = try LoadRequest.locateComponents(source)
    guard folders.transformer != nil || folders.textEncoder != nil, LoadRequest.isFolder(source + "/transformer") || folders.transformer == nil else {
      throw RPCError(.invalidArgument, "\(source) is not a model folder with transformer/ (and text_encoder/): convert the whole model folder")
    }
    let resolvedSource = try canonicalPath(source)
    let parent = FolderStaging.split(target).parent
    if let resolvedParent = try? canonicalPath(parent), (resolvedParent + "/").hasPrefix(resolvedSource + "/") {
      throw RPCError(.invalidArgument, "\(target) is inside the source folder \(source): write the copy elsewhere")
    }

    // Plan everything first: a folder that cannot be converted fails before anything is written.
    var jobs: [(name: String, plan: LoadPlan)] = []
    if !transformerChoice.isEmpty {
      guard let directory = folders.transformer else { throw RPCError(.notFound, "\(source) has no transformer/ folder") }
      let folder = try ComponentFolder.open(directory)
      jobs.append(("transformer", try NucleusTransformer.planned(folder, dtype: .float32, quantize: transformerChoice).plan))
    }
    if !textChoice.isEmpty {
      guard let directory = folders.textEncoder else { throw RPCError(.notFound, "\(source) has no text_encoder/ folder") }
      let folder = try ComponentFolder.open(directory)
      let config = try folder.decodeConfig(TextEncoderConfig.self)
      jobs.append(("text_encoder", try Qwen3TextEncoder.planned(folder, depth: config.numHiddenLayers, dtype: .float32, quantize: textChoice).plan))
    }
    for (name, plan) in jobs where plan.quantization == nil {
      throw RPCError(
        .invalidArgument,
        "\(name): no tensor can be quantized that way (its widths are not multiples of the group size): try another --group-size")
    }

    return try container.perform { _ in
      let started = monotonicSeconds()
      let staging = try FolderStaging(target: target, overwrite: message.overwrite != 0)
      let total = jobs.reduce(0) { $0 + ComponentConverter.sourceBytes($1.plan) }
      var done = 0
      var lastPercent = -1
      var written: [(name: String, quantization: String, bytes: Int, linked: Bool)] = []
      for job in jobs {
        let output = staging.path + "/" + job.name
        guard mkdir(output, 0o755) == 0 else { throw RPCError(.internalError, "cannot create \(output)") }
        let base = done
        try ComponentConverter().convert(
          job.plan, to: output,
          progress: { bytes in
            done = base + bytes
            let percent = total == 0 ? 100 : done * 1000 / total
            guard percent != lastPercent else { return }
            lastPercent = percent
            self.sendConvertProgress(call, component: job.name, done: done, total: total)
          }, isCancelled: { call.isCancelled })
        written.append((job.name, LoadRequest.describe(job.plan.quantization), FileTree.allocatedBytes(output), false))
      }
      let converted = Set(jobs.map(\.name))
      for name in try FileTree.list(source) where !converted.contains(name) {
        if call.isCancelled { throw RPCError(.cancelled, "ConvertModel was cancelled by the client") }
        try FileTree.linkOrCopy(from: source + "/" + name, to: staging.path + "/" + name)
        if LoadRequest.isFolder(source + "/" + name) { written.append((name, "none", 0, true)) }
      }
      try staging.commit()
      sendConvertSummary(call, target: target, components: written, seconds: monotonicSeconds() - started)
      return nil
    }
  }

  private func sendConvertProgress(_ call: RPCCall, component: String, done: Int, total: Int) {
    let arena = CArena()
    var progress = Nucleus__Engine__V1__ConvertProgress()
    nucleus__engine__v1__convert_progress__init(&progress)
    progress.component = arena.string(component)
    progress.bytes_done = UInt64(done)
    progress.bytes_total = UInt64(total)
    progress.message = arena.string("quantizing \(component)")
    var event = Nucleus__Engine__V1__ConvertModelEvent()
    nucleus__engine__v1__convert_model_event__init(&event)
    event.event_case = NUCLEUS__ENGINE__V1__CONVERT_MODEL_EVENT__EVENT_PROGRESS
    event.progress = arena.object(progress)
    call.send(packMessage(&event))
  }

  private func sendConvertSummary(
    _ call: RPCCall, target: String, components: [(name: String, quantization: String, bytes: Int, linked: Bool)],
    seconds: Double
  ) {
    let arena = CArena()
    let entries = components.map { component -> UnsafeMutablePointer<Nucleus__Engine__V1__ConvertedComponent>? in
      var entry = Nucleus__Engine__V1__ConvertedComponent()
      nucleus__engine__v1__converted_component__init(&entry)
      entry.name = arena.string(component.name)
      entry.quantization = arena.string(component.quantization)
      entry.bytes_written = UInt64(component.bytes)
      entry.linked = component.linked ? 1 : 0
      return arena.object(entry)
    }
    var summary = Nucleus__Engine__V1__ConvertSummary()
    nucleus__engine__v1__convert_summary__init(&summary)
    summary.target_dir = arena.string(target)
    summary.n_components = entries.count
    summary.components = arena.array(entries)
    summary.seconds = seconds
    var event = Nucleus__Engine__V1__ConvertModelEvent()
    nucleus__engine__v1__convert_model_event__init(&event)
    event.event_case = NUCLEUS__ENGINE__V1__CONVERT_MODEL_EVENT__EVENT_SUMMARY
    event.summary = arena.object(summary)
    call.send(packMessage(&event))
  }
}

/// The path with links and `..` resolved.
func canonicalPath(_ path: String) throws -> String {
  guard let resolved = realpath(path, nil) else { throw RPCError(.notFound, "\(path) does not exist") }
  defer { free(resolved) }
  return String(cString: resolved)
}
