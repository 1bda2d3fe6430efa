// A direct matrix product for few rows, over the `Vec` operations of the enclosing namespace (see
// kernel_gemm.hpp); included by kernel_isa_<isa>.cpp like kernel_attention_body.h.

namespace {

// c[r][0..N·W) (=|+=) alpha · Σ_k a[r][k] · b[k][0..N·W) for R rows.
template <int R, int N>
inline void gemm_tile(const float *a, int64_t lda, const float *b, int64_t ldb, int depth, float *c, int64_t ldc,
                      float alpha, bool accumulate) {
  Vec::reg acc[R][N];
  NUCLEUS_UNROLL for (int r = 0; r < R; r++) NUCLEUS_UNROLL for (int v = 0; v < N; v++) acc[r][v] = Vec::zero();
  for (int k = 0; k < depth; k++) {
    Vec::reg values[N];
    NUCLEUS_UNROLL for (int v = 0; v < N; v++) values[v] = Vec::load(b + k * ldb + v * Vec::width);
    NUCLEUS_UNROLL for (int r = 0; r < R; r++) {
      Vec::reg x = Vec::set1(a[r * lda + k]);
      NUCLEUS_UNROLL for (int v = 0; v < N; v++) acc[r][v] = Vec::fmadd(x, values[v], acc[r][v]);
    }
  }
  Vec::reg scale = Vec::set1(alpha);
  NUCLEUS_UNROLL for (int r = 0; r < R; r++) {
    NUCLEUS_UNROLL for (int v = 0; v < N; v++) {
      float *out = c + r * ldc + v * Vec::width;
      Vec::reg result = Vec::mul(acc[r][v], scale);
      Vec::store(out, accumulate ? Vec::add(result, Vec::load(out)) : result);
    }
  }
}

// c[0..m) over columns [col, col + N·W): row tiles of R, then the rows left over.
template <int N>
void gemm_columns(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int depth,
                  float alpha, bool accumulate) {
  constexpr int R = Vec::pv_rows;
  int row = 0;
  for (; row + R <= m; row += R) gemm_tile<R, N>(a + row * lda, lda, b, ldb, depth, c + row * ldc, ldc, alpha, accumulate);
  const float *ar = a + row * lda;
  float *cr = c + row * ldc;
  switch (m - row) {
    case 0: break;
    case 1: gemm_tile<1, N>(ar, lda, b, ldb, depth, cr, ldc, alpha, accumulate); break;
    case 2: gemm_tile<2, N>(ar, lda, b, ldb, depth, cr, ldc, alpha, accumulate); break;
    case 3: gemm_tile<3, N>(ar, lda, b, ldb, depth, cr, ldc, alpha, accumulate); break;
    case 4: gemm_tile<4, N>(ar, lda, b, ldb, depth, cr, ldc, alpha, accumulate); break;
    default:
      for (; row < m; row++) gemm_tile<1, N>(a + row * lda, lda, b, ldb, depth, c + row * ldc, ldc, alpha, accumulate);
  }
}

}  // namespace

// Blocks of b's rows outermost, a block's columns tile by tile inside: b is read from memory once, front to back,
// a few rows at a time (few enough concurrent streams for the hardware prefetchers), and the block stays in the
// core's caches while every row tile of a passes over it; c is accumulated block by block.
void small_gemm(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int n,
                int depth, float alpha, bool accumulate) {
  constexpr int wide = Vec::pv_vectors * Vec::width;
  constexpr int depth_block = 32;
  const int vector_columns = n / Vec::width * Vec::width;
  for (int k = 0; k < depth; k += depth_block) {
    const int block = std::min(depth_block, depth - k);
    const bool add = accumulate || k > 0;
    int col = 0;
    for (; col + wide <= vector_columns; col += wide) {
      gemm_columns<Vec::pv_vectors>(a + k, lda, b + k * ldb + col, ldb, c + col, ldc, m, block, alpha, add);
    }
    for (; col < vector_columns; col += Vec::width) gemm_columns<1>(a + k, lda, b + k * ldb + col, ldb, c + col, ldc, m, block, alpha, add);
  }
  int col = vector_columns;
  for (; col < n; col++) {
    for (int r = 0; r < m; r++) {
      float sum = 0;
      for (int k = 0; k < depth; k++) sum += a[r * lda + k] * b[k * ldb + col];
      c[r * ldc + col] = alpha * sum + (accumulate ? c[r * ldc + col] : 0.0f);
    }
  }
}
