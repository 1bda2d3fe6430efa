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

// R rows of c over all n columns: wide tiles, then single vectors, then leftover columns one by one.
template <int R>
void gemm_rows(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int n, int depth,
               float alpha, bool accumulate) {
  constexpr int wide = Vec::pv_vectors * Vec::width;
  int col = 0;
  for (; col + wide <= n; col += wide) {
    gemm_tile<R, Vec::pv_vectors>(a, lda, b + col, ldb, depth, c + col, ldc, alpha, accumulate);
  }
  for (; col + Vec::width <= n; col += Vec::width) gemm_tile<R, 1>(a, lda, b + col, ldb, depth, c + col, ldc, alpha, accumulate);
  for (; col < n; col++) {
    for (int r = 0; r < R; r++) {
      float sum = 0;
      for (int k = 0; k < depth; k++) sum += a[r * lda + k] * b[k * ldb + col];
      c[r * ldc + col] = alpha * sum + (accumulate ? c[r * ldc + col] : 0.0f);
    }
  }
}

}  // namespace

void small_gemm(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int n,
                int depth, float alpha, bool accumulate) {
  constexpr int R = Vec::pv_rows;
  int row = 0;
  for (; row + R <= m; row += R) gemm_rows<R>(a + row * lda, lda, b, ldb, c + row * ldc, ldc, n, depth, alpha, accumulate);
  const float *ar = a + row * lda;
  float *cr = c + row * ldc;
  switch (m - row) {
    case 0: break;
    case 1: gemm_rows<1>(ar, lda, b, ldb, cr, ldc, n, depth, alpha, accumulate); break;
    case 2: gemm_rows<2>(ar, lda, b, ldb, cr, ldc, n, depth, alpha, accumulate); break;
    case 3: gemm_rows<3>(ar, lda, b, ldb, cr, ldc, n, depth, alpha, accumulate); break;
    case 4: gemm_rows<4>(ar, lda, b, ldb, cr, ldc, n, depth, alpha, accumulate); break;
    default:
      for (; row < m; row++) gemm_rows<1>(a + row * lda, lda, b, ldb, c + row * ldc, ldc, n, depth, alpha, accumulate);
  }
}
