import MLX

/// A lookup table: token ids [..] -> rows of `weight` [vocabulary, dimensions].
public final class Embedding {
  public let weight: MLXArray

  public init(weight: MLXArray) { self.weight = weight }

  public convenience init(_ scope: WeightScope, vocabularySize: Int, dimensions: Int) throws {
    self.init(weight: try scope.take("weight", shape: [vocabularySize, dimensions]))
  }

  public var vocabularySize: Int { weight.shape[0] }

  public func callAsFunction(_ ids: MLXArray) throws -> MLXArray {
    try weight.take(ids, axis: 0)
  }
}
