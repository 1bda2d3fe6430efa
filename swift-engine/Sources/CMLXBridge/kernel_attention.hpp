// Fused scaled-dot-product attention on the CPU, float32: softmax(q·kᵀ·scale + mask)·v with grouped-query heads.
//
// Work is split into (batch, query head, block of query rows) tasks. Each task packs its query rows (times the
// scale), computes its score rows against keys packed once per (batch, kv head) into panels, runs the softmax over
// each full row (exact maximum, then exp and sum) and multiplies by the values; the 1/sum is applied to the output
// rows. Score rows stay in the worker's cache; nothing of size L × S is ever written to memory.
//
// Mask semantics follow MLX's scaled_dot_product_attention: a false boolean entry replaces the score with the
// lowest float (a row with no true entry averages all values), an additive mask is added to the score, "causal"
// lets query i see keys j ≤ i + S − L.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nucleus::kernels {

enum class MaskKind { none = 0, causal, boolean, additive };

struct AttentionArgs {
  const float *q = nullptr;  // [B, Hq, L, D]
  const float *k = nullptr;  // [B, Hkv, S, D]
  const float *v = nullptr;  // [B, Hkv, S, Dv]
  float *out = nullptr;      // [B, Hq, L, Dv]
  int batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  // Element strides of the batch, head and row axes; the last axis of q, k and v is contiguous.
  int64_t q_strides[3] = {}, k_strides[3] = {}, v_strides[3] = {}, out_strides[3] = {};
  float scale = 1;
  MaskKind mask_kind = MaskKind::none;
  // MaskKind::boolean: bytes (0 = masked); MaskKind::additive: floats. Strides of [B, Hq, L, S] (0 = broadcast).
  const void *mask = nullptr;
  int64_t mask_strides[4] = {};
  // attention_scratch_bytes(args) bytes of working memory, any alignment.
  void *scratch = nullptr;
  // At most this many keys per chunk (0: as many as fit the cache budget); tests force the online softmax with it.
  int max_chunk_keys = 0;
};

// The max_chunk_keys new attention operations get (0 = automatic); returns the previous value.
int set_attention_chunk_keys(int keys);
int attention_chunk_keys();

// One instantiation per instruction set (kernel_attention_<isa>.cpp). A SIMD variant needs value_dim to be a
// multiple of its vector width (16 floats for AVX-512, 8 for AVX2).
#define NUCLEUS_ATTENTION_VARIANT(isa)                            \
  namespace isa {                                                 \
  std::size_t attention_scratch_bytes(const AttentionArgs &args); \
  void attention(const AttentionArgs &args);                      \
  }
NUCLEUS_ATTENTION_VARIANT(portable)
NUCLEUS_ATTENTION_VARIANT(avx2)
NUCLEUS_ATTENTION_VARIANT(avx512)
#undef NUCLEUS_ATTENTION_VARIANT

}  // namespace nucleus::kernels
