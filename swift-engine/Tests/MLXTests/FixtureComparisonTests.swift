import XCTest

/// The tolerance check every op test relies on must fail on NaN and on infinities that do not match.
final class FixtureComparisonTests: XCTestCase {
  func testWithinToleranceIsNoViolation() {
    XCTAssertNil(worstViolation([1, 2.000_01, -3], [1, 2, -3], atol: 1e-4, rtol: 0))
    XCTAssertNil(worstViolation([.infinity, -.infinity], [.infinity, -.infinity], atol: 0, rtol: 0))
  }

  func testTheWorstElementIsReported() {
    XCTAssertEqual(worstViolation([1, 2.5, 3.1], [1, 2, 3], atol: 0.01, rtol: 0), 1)
  }

  func testNaNOnEitherSideIsAViolation() {
    XCTAssertEqual(worstViolation([1, .nan, 3], [1, 2, 3], atol: 1, rtol: 1), 1, "NaN result")
    XCTAssertEqual(worstViolation([1, 2, 3], [1, 2, .nan], atol: 1, rtol: 1), 2, "NaN expectation")
    XCTAssertEqual(worstViolation([1, 2.5, .nan], [1, 2, 3], atol: 0.01, rtol: 0), 2, "NaN outranks a finite miss")
  }

  func testMismatchedInfinitiesAreViolations() {
    XCTAssertEqual(worstViolation([.infinity], [1e30], atol: 1, rtol: 1), 0)
    XCTAssertEqual(worstViolation([1], [-.infinity], atol: 1, rtol: 1), 0)
    XCTAssertEqual(worstViolation([.infinity], [-.infinity], atol: 1, rtol: 1), 0)
  }
}
