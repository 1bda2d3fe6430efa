// matmul and addmm on the CPU for float32, parallelised over our kernel threads: each product (or batch item) is
// cut into row or column blocks and every block is one single-threaded cblas_sgemm. One set of threads does all
// the parallel work (no BLAS threads spinning beside ours), and blocks are shared out as workers come free, which
// keeps a core taken by another process from stalling the whole product.
#include "kernel_matmul_op.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>

#include "kernel_blas.hpp"
#include "kernel_gemm.hpp"
#include "kernel_primitive.hpp"
#include "mlx/primitives.h"

namespace mx = mlx::core;

namespace nucleus::kernels {

namespace {

// How BLAS reads a [rows, cols] matrix view: row-major (lead = row stride) or transposed (lead = column stride).
struct Layout {
  bool transposed = false;
  int64_t lead = 0;
};

bool blas_layout(const mx::array &x, Layout &layout) {
  const int64_t rows = x.shape(-2), cols = x.shape(-1);
  const int64_t row_stride = x.strides()[x.ndim() - 2], col_stride = x.strides()[x.ndim() - 1];
  if ((col_stride == 1 || cols == 1) && (row_stride >= cols || rows == 1)) {
    layout = {false, std::max<int64_t>(rows == 1 ? cols : row_stride, std::max<int64_t>(cols, 1))};
    return true;
  }
  if ((row_stride == 1 || rows == 1) && (col_stride >= rows || cols == 1)) {
    layout = {true, std::max<int64_t>(cols == 1 ? rows : col_stride, std::max<int64_t>(rows, 1))};
    return true;
  }
  return false;
}

struct Block {
  int item;
  int row_begin, row_end, col_begin, col_end;
};

// Boundaries of `parts` slices of [0, extent), inner ones at multiples of `unit`.
std::vector<int> cuts(int extent, int parts, int unit) {
  std::vector<int> edges(parts + 1, extent);
  for (int part = 0; part < parts; part++) edges[part] = static_cast<int>(static_cast<int64_t>(extent) * part / parts / unit * unit);
  return edges;
}

// Cuts `items` products of rows × cols into about 2 blocks per worker. A block re-reads (BLAS: re-packs) the
// operand it shares with its neighbours, so the cut runs across the larger of rows and cols: the shared operand is
// then the smaller one. Column cuts fall on multiples of `column_unit`.
std::vector<Block> blocks_for(int items, int rows, int cols, int column_unit, bool columns_only) {
  const int wanted = 2 * worker_count();
  int row_parts = 1, col_parts = 1;
  if (items < wanted) {
    int per_item = (wanted + items - 1) / items;
    bool by_columns = columns_only || cols >= rows;
    if (by_columns) {
      col_parts = std::max(1, std::min(per_item, cols / column_unit));
    } else {
      row_parts = std::max(1, std::min(per_item, rows / 16));
    }
  }
  std::vector<int> row_edges = cuts(rows, row_parts, 16), col_edges = cuts(cols, col_parts, column_unit);
  std::vector<Block> blocks;
  for (int item = 0; item < items; item++) {
    for (int r = 0; r < row_parts; r++) {
      for (int c = 0; c < col_parts; c++) {
        Block block{item, row_edges[r], row_edges[r + 1], col_edges[c], col_edges[c + 1]};
        if (block.row_end > block.row_begin && block.col_end > block.col_begin) blocks.push_back(block);
      }
    }
  }
  return blocks;
}

void small_gemm(Isa isa, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int n,
                int depth, float alpha, bool accumulate) {
  switch (isa) {
    case Isa::avx512: avx512::small_gemm(a, lda, b, ldb, c, ldc, m, n, depth, alpha, accumulate); break;
    case Isa::avx2: avx2::small_gemm(a, lda, b, ldb, c, ldc, m, n, depth, alpha, accumulate); break;
    default: portable::small_gemm(a, lda, b, ldb, c, ldc, m, n, depth, alpha, accumulate); break;
  }
}

// Products of at most this many rows with a row-major right operand skip BLAS (see kernel_gemm.hpp).
constexpr int direct_rows = 64;

class CpuMatmul : public mx::UnaryPrimitive {
 public:
  CpuMatmul(mx::Stream stream, float alpha, float beta, bool accumulate, Isa isa)
      : mx::UnaryPrimitive(stream), alpha_(alpha), beta_(beta), accumulate_(accumulate), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array a = inputs[0], b = inputs[1];
    Layout la, lb;
    if (!blas_layout(a, la)) {
      a = contiguous_copy(a, stream(), temporaries);
      blas_layout(a, la);
    }
    if (!blas_layout(b, lb)) {
      b = contiguous_copy(b, stream(), temporaries);
      blas_layout(b, lb);
    }
    out.set_data(mx::allocator::malloc(out.nbytes()));

    const int nd = out.ndim(), batch_axes = nd - 2;
    const int rows = out.shape(-2), cols = out.shape(-1), depth = a.shape(-1);
    const int64_t items = static_cast<int64_t>(out.size() / (static_cast<size_t>(rows) * cols));
    std::vector<int64_t> a_offsets(items), b_offsets(items);
    for (int64_t item = 0; item < items; item++) {
      a_offsets[item] = strided_offset(item, a.shape(), a.strides(), batch_axes);
      b_offsets[item] = strided_offset(item, b.shape(), b.strides(), batch_axes);
    }
    // One product for every item when b is shared and a's items follow each other row by row (a Linear layer).
    bool merged = items > 1 && !la.transposed && std::all_of(b_offsets.begin(), b_offsets.end(), [](int64_t o) { return o == 0; });
    for (int64_t item = 1; merged && item < items; item++) merged = a_offsets[item] == item * rows * la.lead;

    struct Work {
      const float *a, *b, *c;
      float *out;
      Layout la, lb;
      int rows, cols, depth, items;
      bool merged;
      std::vector<int64_t> a_offsets, b_offsets;
      float alpha, beta;
      bool accumulate;
    };
    auto work = std::make_shared<Work>();
    work->a = a.data<float>();
    work->b = b.data<float>();
    work->c = accumulate_ ? inputs[2].data<float>() : nullptr;
    work->out = out.data<float>();
    work->la = la;
    work->lb = lb;
    work->rows = merged ? static_cast<int>(items * rows) : rows;
    work->cols = cols;
    work->depth = depth;
    work->items = merged ? 1 : static_cast<int>(items);
    work->merged = merged;
    work->a_offsets = std::move(a_offsets);
    work->b_offsets = std::move(b_offsets);
    work->alpha = alpha_;
    work->beta = beta_;
    work->accumulate = accumulate_;
    // c as broadcast to the output: its rows are found from flat row numbers, merged or not.
    mx::Shape unmerged_c_shape = accumulate_ ? inputs[2].shape() : mx::Shape{};
    mx::Strides unmerged_c_strides = accumulate_ ? inputs[2].strides() : mx::Strides{};

    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([work, unmerged_c_shape, unmerged_c_strides, nd, isa = isa_]() {
      SgemmFunction gemm = sgemm();
      const Work &w = *work;
      const bool direct = !w.la.transposed && !w.lb.transposed && w.rows <= direct_rows;
      std::vector<Block> blocks = blocks_for(w.items, w.rows, w.cols, direct ? 64 : 16, direct);
      parallel_for(static_cast<int>(blocks.size()), [&](int task, int) {
        const Block &blk = blocks[task];
        const int64_t out_item = static_cast<int64_t>(blk.item) * w.rows * w.cols;
        float *c_out = w.out + out_item + static_cast<int64_t>(blk.row_begin) * w.cols + blk.col_begin;
        if (w.accumulate) {
          // out = beta · c over this block first; the product then adds alpha · a·b on top.
          for (int r = blk.row_begin; r < blk.row_end; r++) {
            int64_t flat_row = (w.merged ? 0 : static_cast<int64_t>(blk.item) * w.rows) + r;
            int64_t base = strided_offset(flat_row * w.cols, unmerged_c_shape, unmerged_c_strides, nd);
            int64_t step = unmerged_c_strides[nd - 1];
            float *dst = w.out + out_item + static_cast<int64_t>(r) * w.cols;
            for (int col = blk.col_begin; col < blk.col_end; col++) dst[col] = w.beta * w.c[base + col * step];
          }
        }
        const float *a_block = w.a + w.a_offsets[w.merged ? 0 : blk.item] +
                               (w.la.transposed ? blk.row_begin : static_cast<int64_t>(blk.row_begin) * w.la.lead);
        const float *b_block = w.b + w.b_offsets[w.merged ? 0 : blk.item] +
                               (w.lb.transposed ? static_cast<int64_t>(blk.col_begin) * w.lb.lead : blk.col_begin);
        if (direct) {
          small_gemm(isa, a_block, w.la.lead, b_block, w.lb.lead, c_out, w.cols, blk.row_end - blk.row_begin,
                     blk.col_end - blk.col_begin, w.depth, w.alpha, w.accumulate);
          return;
        }
        gemm(cblas_row_major, w.la.transposed ? cblas_trans : cblas_no_trans,
             w.lb.transposed ? cblas_trans : cblas_no_trans, blk.row_end - blk.row_begin, blk.col_end - blk.col_begin,
             w.depth, w.alpha, a_block, static_cast<int>(w.la.lead), b_block, static_cast<int>(w.lb.lead),
             w.accumulate ? 1.0f : 0.0f, c_out, w.cols);
      });
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuMatmul runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuMatmul"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuMatmul *>(&other);
    return that && that->alpha_ == alpha_ && that->beta_ == beta_ && that->accumulate_ == accumulate_ &&
           that->isa_ == isa_;
  }

 private:
  float alpha_, beta_;
  bool accumulate_;
  Isa isa_;
};

// Our product for a [..., M, K] and b [..., K, N] (batch axes broadcast), plus beta·c when c is given.
std::optional<mx::array> product(const mx::array &a, const mx::array &b, const mx::array *c, float alpha, float beta) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&a, &b}) || (c && c->dtype() != mx::float32) || !sgemm()) return std::nullopt;
  if (a.ndim() < 2 || b.ndim() < 2 || a.shape(-1) != b.shape(-2) || a.size() == 0 || b.size() == 0) return std::nullopt;
  if (a.shape(-1) > (1 << 30) || a.shape(-2) > (1 << 30) || b.shape(-1) > (1 << 30)) return std::nullopt;
  mx::Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  mx::Shape batch = mx::broadcast_shapes(a_batch, b_batch);
  mx::Shape a_shape = batch, b_shape = batch, out_shape = batch;
  a_shape.insert(a_shape.end(), {a.shape(-2), a.shape(-1)});
  b_shape.insert(b_shape.end(), {b.shape(-2), b.shape(-1)});
  out_shape.insert(out_shape.end(), {a.shape(-2), b.shape(-1)});
  std::vector<mx::array> inputs = {mx::broadcast_to(a, a_shape, stream), mx::broadcast_to(b, b_shape, stream)};
  if (c) inputs.push_back(mx::broadcast_to(*c, out_shape, stream));
  return mx::array(std::move(out_shape), mx::float32, std::make_shared<CpuMatmul>(stream, alpha, beta, c != nullptr, selected()),
                   std::move(inputs));
}

}  // namespace

mx::array matmul(const mx::array &a, const mx::array &b) {
  if (auto ours = product(a, b, nullptr, 1.0f, 0.0f)) return *ours;
  return mx::matmul(a, b);
}

mx::array addmm(const mx::array &c, const mx::array &a, const mx::array &b, float alpha, float beta) {
  if (auto ours = product(a, b, &c, alpha, beta)) return *ours;
  return mx::addmm(c, a, b, alpha, beta);
}

}  // namespace nucleus::kernels
