/// Sizes from files and requests, multiplied without trapping on overflow.
public enum Checked {
  /// The product of `values`, or nil when it overflows or any value is negative.
  public static func product(_ values: [Int]) -> Int? {
    var result = 1
    for value in values {
      guard value >= 0 else { return nil }
      let (next, overflow) = result.multipliedReportingOverflow(by: value)
      if overflow { return nil }
      result = next
    }
    return result
  }

  public static func multiply(_ a: Int, _ b: Int) -> Int? {
    let (result, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? nil : result
  }

  public static func add(_ a: Int, _ b: Int) -> Int? {
    let (result, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : result
  }
}
