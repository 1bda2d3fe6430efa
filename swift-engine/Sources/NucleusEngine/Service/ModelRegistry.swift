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
    var checkpointParameterCount: Int
  }

  struct LoadedTextEncoder {
    var encoder: Qwen3TextEncoder
    var directory: String
    var parameterCount: Int
    var residentBytes: Int
    /// Parameters of the whole language model in the checkpoint (to report what stopping early saves).
    var languageModelParameters: Int
    var defaultHiddenLayer: Int
    var quantization: String
    var unloadAfterEncode: Bool
  }

  private let lock = Lock()
  private var loadedTransformer: LoadedTransformer?
  private var loadedVAE: LoadedVAE?
  private var loadedTextEncoder: LoadedTextEncoder?
  private var unloadedReason: String?
  /// Text embeddings by (token ids, mask, hidden state), most recent last; bounded.
  private var textCache: [(key: String, embedding: MLXArray, mask: MLXArray?)] = []
  static let textCacheEntries = 32
  private var embeddings: [UInt64: Embedding] = [:]
  private var nextHandle: UInt64 = 1

  var transformer: LoadedTransformer? { lock.withLock { loadedTransformer } }
  var vae: LoadedVAE? { lock.withLock { loadedVAE } }

  func install(vae: LoadedVAE?) { lock.withLock { loadedVAE = vae } }

  var textEncoder: LoadedTextEncoder? { lock.withLock { loadedTextEncoder } }

  /// Why the text encoder is absent when it was unloaded on purpose (low-memory mode).
  var textEncoderUnloadedReason: String? { lock.withLock { unloadedReason } }

  func install(textEncoder: LoadedTextEncoder?, unloadedReason: String? = nil) {
    lock.withLock {
      loadedTextEncoder = textEncoder
      self.unloadedReason = textEncoder == nil ? unloadedReason : nil
      textCache.removeAll()
    }
  }

  func cachedText(_ key: String) -> (embedding: MLXArray, mask: MLXArray?)? {
    lock.withLock {
      guard let index = textCache.firstIndex(where: { $0.key == key }) else { return nil }
      let entry = textCache.remove(at: index)
      textCache.append(entry)
      return (entry.embedding, entry.mask)
    }
  }

  func cacheText(_ key: String, embedding: MLXArray, mask: MLXArray?) {
    lock.withLock {
      textCache.removeAll { $0.key == key }
      textCache.append((key, embedding, mask))
      if textCache.count > Self.textCacheEntries { textCache.removeFirst() }
    }
  }

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
