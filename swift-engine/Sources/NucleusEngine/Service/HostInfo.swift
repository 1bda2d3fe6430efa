/// Facts about the machine that MLX does not report on the CPU backend.
enum HostInfo {
  /// Physical memory in bytes.
  static var physicalMemoryBytes: UInt64 {
    let pages = sysconf(Int32(_SC_PHYS_PAGES))
    let pageSize = sysconf(Int32(_SC_PAGESIZE))
    return pages > 0 && pageSize > 0 ? UInt64(pages) * UInt64(pageSize) : 0
  }

  /// The processor's marketing name ("" when unknown).
  static var processorName: String {
    #if os(Linux)
      guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "" }
      for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") {
          return String(line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }))
        }
      }
      return ""
    #else
      var size = 0
      sysctlbyname("machdep.cpu.brand_string", nil, &size, nil, 0)
      var buffer = [CChar](repeating: 0, count: max(size, 1))
      sysctlbyname("machdep.cpu.brand_string", &buffer, &size, nil, 0)
      return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    #endif
  }

  static var processorCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

  /// The high-water mark of this process's resident memory in bytes: VmHWM on Linux, getrusage elsewhere.
  static var peakResidentBytes: UInt64 {
    #if os(Linux)
      if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
          let digits = line.dropFirst("VmHWM:".count).filter(\.isNumber)
          if let kilobytes = UInt64(String(digits)) { return kilobytes * 1024 }
        }
      }
    #endif
    var usage = rusage()
    #if os(Linux)
      guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
      return UInt64(max(0, usage.ru_maxrss)) * 1024  // kilobytes on Linux
    #else
      guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
      return UInt64(max(0, usage.ru_maxrss))  // bytes on macOS
    #endif
  }
}
