import CEngineProto
import MLX

extension EngineService {
  func getInfo(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "GetInfoRequest", nucleus__engine__v1__get_info_request__unpack)
    let wantsSelfCheck = decoded.message.self_check != 0
    let benchmarkSize = Int(decoded.message.benchmark_matmul_size)
    guard benchmarkSize <= 8192 else {
      throw RPCError(.invalidArgument, "benchmark_matmul_size \(benchmarkSize) is too large; use at most 8192")
    }

    let arena = CArena()
    var response = Nucleus__Engine__V1__GetInfoResponse()
    nucleus__engine__v1__get_info_response__init(&response)
    response.engine_version = arena.string(EngineVersion.string)
    response.mlx_version = arena.string(Device.mlxVersion)
    response.backend = arena.string(Device.backend)
    response.device_name = arena.string(deviceName())
    response.protocol = arena.string(EngineVersion.proto)
    response.pid = UInt32(getpid())
    response.uptime_seconds = uptimeSeconds
    if Device.backend == "cpu" {
      var cpu = Nucleus__Engine__V1__CpuKernelInfo()
      nucleus__engine__v1__cpu_kernel_info__init(&cpu)
      cpu.kernels = arena.string(CPUKernels.active)
      cpu.sgemm = arena.string(CPUKernels.sgemm)
      cpu.threads = UInt32(CPUKernels.threads)
      response.cpu = arena.object(cpu)
    }

    if wantsSelfCheck {
      let items = try compute { SelfCheck.run() }
      response.self_check = arena.object(selfCheckMessage(items, arena: arena))
    }
    if benchmarkSize > 0 {
      let result = try compute {
        do { return try MatmulBenchmark.run(size: benchmarkSize) } catch {
          throw RPCError(.internalError, "matmul benchmark failed: \(error)")
        }
      }
      var benchmark = Nucleus__Engine__V1__Benchmark()
      nucleus__engine__v1__benchmark__init(&benchmark)
      benchmark.matmul_size = UInt32(result.size)
      benchmark.seconds = result.seconds
      benchmark.gflops = result.gflops
      response.benchmark = arena.object(benchmark)
    }
    let state = container.snapshot
    let loaded = [
      state.transformer.map(summary(of:)), state.vae.map(summary(of:)), state.textEncoder.map(summary(of:)),
    ].compactMap { $0 }
    let components = loaded.map { Optional(componentMessage($0, arena: arena)) }
    response.n_loaded_components = components.count
    response.loaded_components = arena.array(components)
    if let directory = state.directory {
      response.model_dir = arena.string(directory)
    }
    // Memory last, so the peak includes the self-check and benchmark.
    response.memory = arena.object(try memoryMessage())
    return packMessage(&response)
  }

  func health(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    _ = try unpackMessage(request, "HealthRequest", nucleus__engine__v1__health_request__unpack)
    var response = Nucleus__Engine__V1__HealthResponse()
    nucleus__engine__v1__health_response__init(&response)
    response.serving = server.isShuttingDown ? 0 : 1
    response.uptime_seconds = uptimeSeconds
    response.in_flight_calls = UInt32(server.inFlightCalls)
    return packMessage(&response)
  }

  func shutdown(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "ShutdownRequest", nucleus__engine__v1__shutdown_request__unpack)
    let reason = string(decoded.message.reason)
    EngineLog.write("shutdown requested\(reason.isEmpty ? "" : ": " + reason)")
    var response = Nucleus__Engine__V1__ShutdownResponse()
    nucleus__engine__v1__shutdown_response__init(&response)
    let bytes = packMessage(&response)
    // Answer first; the server then drains in-flight calls (this one included) and stops.
    call.finish(.ok, response: bytes)
    server.shutdown()
    return nil
  }

  private func deviceName() -> String {
    var name = (try? Device.name()) ?? ""
    if name.isEmpty { name = HostInfo.processorName }
    guard Device.backend == "cpu" else { return name }
    return (name.isEmpty ? "CPU" : name) + " (\(HostInfo.processorCount) cores)"
  }

  private func memoryMessage() throws -> Nucleus__Engine__V1__MemoryInfo {
    let snapshot = try Memory.snapshot()
    var memory = Nucleus__Engine__V1__MemoryInfo()
    nucleus__engine__v1__memory_info__init(&memory)
    memory.total_bytes = snapshot.deviceTotalBytes > 0 ? snapshot.deviceTotalBytes : HostInfo.physicalMemoryBytes
    memory.active_bytes = snapshot.activeBytes
    memory.peak_bytes = snapshot.peakBytes
    memory.limit_bytes = snapshot.limitBytes
    memory.cache_bytes = snapshot.cacheBytes
    memory.peak_rss_bytes = HostInfo.peakResidentBytes
    return memory
  }

  private func selfCheckMessage(_ items: [SelfCheck.Item], arena: CArena) -> Nucleus__Engine__V1__SelfCheck {
    var message = Nucleus__Engine__V1__SelfCheck()
    nucleus__engine__v1__self_check__init(&message)
    message.passed = items.allSatisfy(\.passed) ? 1 : 0
    let itemPointers = items.map { item -> UnsafeMutablePointer<Nucleus__Engine__V1__SelfCheckItem>? in
      var entry = Nucleus__Engine__V1__SelfCheckItem()
      nucleus__engine__v1__self_check_item__init(&entry)
      entry.name = arena.string(item.name)
      entry.passed = item.passed ? 1 : 0
      entry.max_abs_error = item.maxAbsError
      entry.tolerance = item.tolerance
      entry.detail = arena.string(item.detail)
      return arena.object(entry)
    }
    message.n_items = itemPointers.count
    message.items = arena.array(itemPointers)
    return message
  }
}
