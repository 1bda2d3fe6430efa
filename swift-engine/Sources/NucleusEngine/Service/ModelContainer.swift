import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// The one owner of the engine's model state.
///
/// Every computation and every load runs inside `perform`, one at a time, on a snapshot of the loaded components
/// taken under the same lock: a call runs entirely on one model, and calls that arrive during a load wait for it.
/// What is derived from a component (text keys/values per transformer, text embeddings per text encoder) is keyed
/// by that component's identity, so nothing computed with one model is ever used with another.
final class ModelContainer: @unchecked Sendable {
  struct LoadedTransformer {
    var id: UInt64
    var model: NucleusTransformer
    var directory: String
    var parameterCount: Int
    var residentBytes: Int
    var quantization: String
    var weightDType: DType
    /// The weights a forward may copy densely (MemoryBudget's weight transient), listed once at load: walking the
    /// layer tree for them on every Denoise cost a visible share of its round trip.
    var matmulWeights: [Parameter]
  }

  struct LoadedVAE {
    var id: UInt64
    var decoder: VAEDecoder
    var directory: String
    var parameterCount: Int
    var residentBytes: Int
    var checkpointParameterCount: Int
    var weightDType: DType
  }

  struct LoadedTextEncoder {
    var id: UInt64
    var encoder: Qwen3TextEncoder
    var directory: String
    var parameterCount: Int
    var residentBytes: Int
    /// Parameters of the whole language model in the checkpoint (to report what stopping early saves).
    var languageModelParameters: Int
    var defaultHiddenLayer: Int
    var quantization: String
    var unloadAfterEncode: Bool
    var weightDType: DType
  }

  struct Components {
    var transformer: LoadedTransformer?
    var vae: LoadedVAE?
    var textEncoder: LoadedTextEncoder?
    /// Why the text encoder is absent when it was dropped on purpose (low-memory mode).
    var textEncoderUnloadedReason: String?

    var residentBytes: Int {
      (transformer?.residentBytes ?? 0) + (vae?.residentBytes ?? 0) + (textEncoder?.residentBytes ?? 0)
    }

    var directory: String? { transformer?.directory ?? vae?.directory ?? textEncoder?.directory }
  }

  /// A prompt embedding behind a handle, with its conditionings per (transformer, grid).
  final class Embedding: @unchecked Sendable {
    struct ConditioningKey: Hashable {
      var transformer: UInt64
      var ropeOffset: Int
    }

    let embedding: MLXArray  // [L, D]
    let mask: MLXArray?  // [L] bool, nil when all tokens are real
    var conditionings: [ConditioningKey: TextConditioning] = [:]

    init(embedding: MLXArray, mask: MLXArray?) {
      self.embedding = embedding
      self.mask = mask
    }

    var length: Int { embedding.shape[0] }
    var width: Int { embedding.shape[1] }
  }

  struct TextKey: Hashable {
    var encoder: UInt64
    var text: String
  }

  static let textCacheEntries = 32

  private let computeLock = Lock()
  /// Guards the fields below for readers that do not compute (GetInfo, handle lookups).
  private let stateLock = Lock()
  private var components = Components()
  private var embeddings: [UInt64: Embedding] = [:]
  private var nextHandle: UInt64 = 1
  private var nextIdentity: UInt64 = 1
  /// Text embeddings by (encoder, token ids, mask, hidden state), most recent last; bounded.
  private var textCache: [(key: TextKey, embedding: MLXArray, mask: MLXArray?)] = []

  /// The loaded components now (for reports; computations use `perform`).
  var snapshot: Components { stateLock.withLock { components } }

  /// Runs MLX work on a consistent snapshot of the loaded components: one computation (or load) at a time, on the
  /// process-wide shared stream (calls arrive on many threads).
  func perform<T>(_ body: (Components) throws -> T) throws -> T {
    try computeLock.withLock {
      try Device.useSharedStream()
      return try body(snapshot)
    }
  }

  /// A fresh identity for a component about to be installed.
  func makeIdentity() -> UInt64 {
    stateLock.withLock {
      defer { nextIdentity += 1 }
      return nextIdentity
    }
  }

  /// Replaces the components (call inside `perform`). Conditionings and embeddings derived from components that
  /// are gone are dropped with them.
  func install(_ new: Components) {
    stateLock.withLock {
      let transformer = new.transformer?.id
      for embedding in embeddings.values {
        embedding.conditionings = embedding.conditionings.filter { $0.key.transformer == transformer }
      }
      textCache.removeAll { $0.key.encoder != new.textEncoder?.id }
      components = new
    }
  }

  func cachedText(_ key: TextKey) -> (embedding: MLXArray, mask: MLXArray?)? {
    stateLock.withLock {
      guard let index = textCache.firstIndex(where: { $0.key == key }) else { return nil }
      let entry = textCache.remove(at: index)
      textCache.append(entry)
      return (entry.embedding, entry.mask)
    }
  }

  func cacheText(_ key: TextKey, embedding: MLXArray, mask: MLXArray?) {
    stateLock.withLock {
      guard key.encoder == components.textEncoder?.id else { return }
      textCache.removeAll { $0.key == key }
      textCache.append((key, embedding, mask))
      if textCache.count > Self.textCacheEntries { textCache.removeFirst() }
    }
  }

  func add(_ embedding: Embedding) -> UInt64 {
    stateLock.withLock {
      let handle = nextHandle
      nextHandle += 1
      embeddings[handle] = embedding
      return handle
    }
  }

  func embedding(_ handle: UInt64) throws -> Embedding {
    try stateLock.withLock {
      guard let embedding = embeddings[handle] else {
        throw RPCError(.notFound, "unknown embedding handle \(handle): it was released or never imported (ImportEmbedding/EncodeText return handles)")
      }
      return embedding
    }
  }

  /// Drops the handles that exist; returns how many did.
  func release(_ handles: [UInt64]) -> Int {
    stateLock.withLock { handles.reduce(0) { count, handle in count + (embeddings.removeValue(forKey: handle) == nil ? 0 : 1) } }
  }

  var embeddingCount: Int { stateLock.withLock { embeddings.count } }

  /// Bytes held by embeddings and their cached conditionings.
  var embeddingBytes: Int {
    stateLock.withLock {
      embeddings.values.reduce(0) { total, entry in
        total + entry.embedding.nbytes + entry.conditionings.values.reduce(0) { $0 + $1.nbytes }
      }
    }
  }
}
