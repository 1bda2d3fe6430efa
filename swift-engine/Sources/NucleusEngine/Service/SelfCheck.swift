import MLX

/// A small matmul and a softmax computed by MLX, compared with the same values computed here in Double with
/// plain loops and libm: if MLX, its BLAS or the bridge were broken, the numbers would disagree.
public enum SelfCheck {
  public struct Item: Sendable {
    public var name: String
    public var passed: Bool
    public var maxAbsError: Double
    public var tolerance: Double
    public var detail: String
  }

  public static func run() -> [Item] {
    [check("matmul 3x4 @ 4x5 (float32)", tolerance: 1e-4, matmulCase),
     check("softmax over rows of 2x6 (float32)", tolerance: 1e-6, softmaxCase)]
  }

  private static func check(_ name: String, tolerance: Double, _ body: () throws -> (mlx: [Float], expected: [Double]))
    -> Item
  {
    do {
      let (mlx, expected) = try body()
      guard mlx.count == expected.count else {
        return Item(name: name, passed: false, maxAbsError: .infinity, tolerance: tolerance,
                    detail: "MLX returned \(mlx.count) values, expected \(expected.count)")
      }
      let error = zip(mlx, expected).map { abs(Double($0) - $1) }.max() ?? 0
      return Item(name: name, passed: error <= tolerance && error.isFinite, maxAbsError: error, tolerance: tolerance,
                  detail: error <= tolerance ? "ok" : "MLX differs from the independent result")
    } catch {
      return Item(name: name, passed: false, maxAbsError: .infinity, tolerance: tolerance, detail: "\(error)")
    }
  }

  /// A[i][k] = (i + 1) - 0.5 k, B[k][j] = 0.25 (k - j) + 1: small exact binary fractions.
  private static func matmulCase() throws -> (mlx: [Float], expected: [Double]) {
    let (m, k, n) = (3, 4, 5)
    let a = (0..<m).flatMap { i in (0..<k).map { kk in Double(i + 1) - 0.5 * Double(kk) } }
    let b = (0..<k).flatMap { kk in (0..<n).map { j in 0.25 * Double(kk - j) + 1 } }
    var expected = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        for kk in 0..<k { expected[i * n + j] += a[i * k + kk] * b[kk * n + j] }
      }
    }
    let product = try matmul(MLXArray(a.map(Float.init), [m, k]), MLXArray(b.map(Float.init), [k, n]))
    return (try product.asArray(Float.self), expected)
  }

  private static func softmaxCase() throws -> (mlx: [Float], expected: [Double]) {
    let rows: [[Double]] = [[1, 2, 3, 4, -1, 0.5], [-3, 10, 0, 0, 7.25, -0.125]]
    let expected = rows.flatMap { row -> [Double] in
      let top = row.max()!
      let exps = row.map { exp($0 - top) }
      let total = exps.reduce(0, +)
      return exps.map { $0 / total }
    }
    let input = try MLXArray(rows.flatMap { $0 }.map(Float.init), [2, 6])
    return (try softmax(input, axis: -1).asArray(Float.self), expected)
  }
}
