import MLX

/// A lookup table: token ids [..] -> rows of `weight` [vocabulary, dimensions], in the weight's stored dtype.
public final class Embedding: Module {
  public let weight: Parameter

  public init(vocabularySize: Int, dimensions: Int) {
    weight = Parameter([vocabularySize, dimensions])
  }

  public var items: [(String, ModuleItem)] { [("weight", .parameter(weight))] }

  public var vocabularySize: Int { weight.shape[0] }

  public func callAsFunction(_ ids: MLXArray) throws -> MLXArray {
    guard case .dense(let table) = weight.value else { throw MLXError("the embedding table is not loaded") }
    return try table.take(ids, axis: 0)
  }
}
