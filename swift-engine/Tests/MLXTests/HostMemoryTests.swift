import XCTest

@testable import MLX

#if canImport(Glibc)
  import Glibc
#endif

/// The engine's allocator policy on Linux: memory freed by arrays stays in the process for the next computation,
/// and `Memory.clearCache` (what unloading a component calls) hands it back to the system. Measured as the
/// process's resident size, so a policy that kept nothing, or a clearCache that returned nothing, fails.
final class HostMemoryTests: XCTestCase {
  private func residentBytes() throws -> Int {
    let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
    return Int(fields[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
  }

  func testFreedArraysStayResidentUntilClearCache() throws {
    #if !os(Linux)
      throw XCTSkip("the policy is glibc's")
    #else
      Memory.keepFreedHostMemory()
      try Memory.clearCache()
      let before = try residentBytes()
      do {
        // 160 arrays of 1 MiB, alive together, written so that their pages are really in memory.
        var arrays: [MLXArray] = []
        for index in 0..<160 {
          let array = try MLXArray.full([1 << 18], value: Double(index))
          try eval(array)
          arrays.append(array)
        }
        XCTAssertGreaterThan(try residentBytes() - before, 120 << 20)
      }
      let afterFree = try residentBytes()
      XCTAssertGreaterThan(afterFree - before, 120 << 20, "freed arrays were handed back at once")
      try Memory.clearCache()
      let afterClear = try residentBytes()
      XCTAssertGreaterThan(afterFree - afterClear, 120 << 20, "clearCache did not return the kept memory")
    #endif
  }
}
