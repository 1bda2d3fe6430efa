import Checkpoints
import MLX
import NucleusModels

/// What the engine holds between calls: the loaded transformer, the imported prompt embeddings (by handle) and,
/// per embedding, its prepared text conditionings (per grid). Thread-safe; model math itself is serialised by
/// the service's compute lock.
final class ModelRegistry: @unchecked Sendable {
  struct LoadedTransformer {
    var model: NucleusTransformer
    var directory: String
    var parameterCount: Int
    var residentBytes: Int
    var quantization: String
  }

  final class Embedding {
    let embedding: MLXArray  // [L, D]
    let mask: MLXArray?  // [L] bool, nil when all tokens are real
    /// Prepared conditionings by RoPE text offset (max(h/2, w/2)); valid for the transformer they were made with.
    var conditionings: [Int: TextConditioning] = [:]

    init(embedding: MLXArray, mask: MLXArray?) {
      self.embedding = embedding
      self.mask = mask
    }

    var length: Int { embedding.shape[0] }
    var width: Int { embedding.shape[1] }
  }

  struct LoadedVAE {
    var decoder: VAEDecoder
    var directory: String
    var parameterCount: Int
    var residentBytes: Int
  }

  private let lock = Lock()
  private var loadedTransformer: LoadedTransformer?
  private var loadedVAE: LoadedVAE?
  private var embeddings: [UInt64: Embedding] = [:]
  private var nextHandle: UInt64 = 1

  var transformer: LoadedTransformer? { lock.withLock { loadedTransformer } }
  var vae: LoadedVAE? { lock.withLock { loadedVAE } }

  func install(vae: LoadedVAE?) { lock.withLock { loadedVAE = vae } }

  /// Installs a new transformer; every cached conditioning belonged to the old weights and is dropped.
  func install(_ transformer: LoadedTransformer?) {
    lock.withLock {
      loadedTransformer = transformer
      for embedding in embeddings.values { embedding.conditionings.removeAll() }
    }
  }

  func add(_ embedding: Embedding) -> UInt64 {
    lock.withLock {
      let handle = nextHandle
      nextHandle += 1
      embeddings[handle] = embedding
      return handle
    }
  }

  func embedding(_ handle: UInt64) throws -> Embedding {
    try lock.withLock {
      guard let embedding = embeddings[handle] else {
        throw RPCError(.notFound, "unknown embedding handle \(handle): it was released or never imported (ImportEmbedding/EncodeText return handles)")
      }
      return embedding
    }
  }

  /// Drops the handles that exist; returns how many did.
  func release(_ handles: [UInt64]) -> Int {
    lock.withLock { handles.reduce(0) { count, handle in count + (embeddings.removeValue(forKey: handle) == nil ? 0 : 1) } }
  }

  var embeddingCount: Int { lock.withLock { embeddings.count } }
}
