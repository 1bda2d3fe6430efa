// The attention kernel body, written once over the `Vec` operations of the enclosing namespace (AVX-512, AVX2 or
// portable). Included by kernel_attention_<isa>.cpp inside namespace nucleus::kernels::<isa>, within a region
// compiled for that instruction set; everything here is private to that namespace. See kernel_attention.hpp.

namespace {

using reg = Vec::reg;
constexpr int W = Vec::width;
constexpr int NR = 2 * W;             // keys per packed panel = columns of a score tile
constexpr int MQ = Vec::qk_rows;      // rows of a score tile
constexpr int MP = Vec::pv_rows;      // rows of an output tile
constexpr int NV = Vec::pv_vectors;   // vectors per output tile row
constexpr int row_unit() { return MQ % MP == 0 ? MQ : (MP % MQ == 0 ? MP : MQ * MP); }
constexpr int RU = row_unit();        // query blocks are multiples of both tile heights
constexpr float lowest = -3.40282347e+38f;  // what a false boolean mask entry makes of a score

constexpr size_t round_up(size_t value, size_t unit) { return (value + unit - 1) / unit * unit; }

struct Plan {
  int block_rows = 0;  // query rows per task (a multiple of RU)
  int blocks = 0;      // query blocks per (batch, head)
  int panels = 0;      // key panels of NR
  int chunk_panels = 0;  // key panels per chunk (all of them: one exact pass; fewer: online softmax over chunks)
  int ld = 0;          // floats per score row (one chunk)
  int workers = 1;
  size_t packed_floats = 0;  // packed keys of every (batch, kv head)
  size_t q_floats = 0, s_floats = 0, row_floats = 0, acc_floats = 0, o_floats = 0, worker_floats = 0;
  size_t bytes = 0;
};

Plan make_plan(const AttentionArgs &a) {
  Plan p;
  p.workers = worker_count();
  p.panels = (a.kv_len + NR - 1) / NR;
  // Blocks of up to 96 query rows: each key and value is then read once per 96 rows, and the score block (rows ×
  // chunk) stays within ~1 MiB of the core's L2 cache. Long sequences split the keys into chunks of that size.
  int rows = 96 / RU * RU;
  rows = std::max(RU, std::min<int>(rows, static_cast<int>(round_up(a.q_len, RU))));
  auto tasks = [&](int r) { return static_cast<long>(a.batch) * a.q_heads * ((a.q_len + r - 1) / r); };
  while (rows > RU && tasks(rows) < 4L * p.workers) rows -= RU;
  int budget_panels = std::max(1, static_cast<int>((1 << 20) / (static_cast<size_t>(rows) * NR * sizeof(float))));
  if (a.max_chunk_keys > 0) budget_panels = std::min(budget_panels, std::max(1, a.max_chunk_keys / NR));
  p.chunk_panels = std::min(p.panels, budget_panels);
  p.ld = p.chunk_panels * NR;
  if ((p.ld * sizeof(float)) % 4096 == 0) p.ld += W;  // rows 4 KiB apart alias in the L1 cache
  p.block_rows = rows;
  p.blocks = (a.q_len + rows - 1) / rows;
  p.packed_floats = round_up(static_cast<size_t>(a.batch) * a.kv_heads * p.panels * NR * a.head_dim, 16);
  p.q_floats = round_up(static_cast<size_t>(rows) * a.head_dim, 16);
  p.s_floats = round_up(static_cast<size_t>(rows) * p.ld, 16);
  p.row_floats = round_up(static_cast<size_t>(rows) * 3, 16);  // per row: max, sum, scale
  p.acc_floats = p.chunk_panels < p.panels ? round_up(static_cast<size_t>(rows) * a.value_dim, 16) : 0;
  p.o_floats = round_up(static_cast<size_t>(MP) * a.value_dim, 16);
  p.worker_floats = p.q_floats + p.s_floats + p.row_floats + p.acc_floats + p.o_floats;
  p.bytes = (p.packed_floats + p.worker_floats * p.workers) * sizeof(float) + 64;
  return p;
}

// Keys of one (batch, kv head) as panels [panel][d][NR], zero past the last key.
void pack_keys(const AttentionArgs &a, const Plan &p, float *packed, int bg, int first, int last) {
  int b = bg / a.kv_heads, g = bg % a.kv_heads, d_count = a.head_dim;
  const float *keys = a.k + b * a.k_strides[0] + g * a.k_strides[1];
  float *out = packed + static_cast<size_t>(bg) * p.panels * NR * d_count;
  for (int panel = first; panel < last; panel++) {
    float *dst = out + static_cast<size_t>(panel) * d_count * NR;
    for (int c = 0; c < NR; c++) {
      int j = panel * NR + c;
      if (j < a.kv_len) {
        const float *row = keys + j * a.k_strides[2];
        for (int d = 0; d < d_count; d++) dst[d * NR + c] = row[d];
      } else {
        for (int d = 0; d < d_count; d++) dst[d * NR + c] = 0;
      }
    }
  }
}

// s[r][0..NR) = Σ_d q[r][d] · panel[d][·] for MQ query rows (row stride D) against one key panel.
inline void score_tile(const float *q, int d_count, const float *panel, float *s, int ld) {
  reg lo[MQ], hi[MQ];
  NUCLEUS_UNROLL for (int r = 0; r < MQ; r++) lo[r] = hi[r] = Vec::zero();
  for (int d = 0; d < d_count; d++) {
    reg k0 = Vec::load(panel + d * NR), k1 = Vec::load(panel + d * NR + W);
    NUCLEUS_UNROLL for (int r = 0; r < MQ; r++) {
      reg x = Vec::set1(q[r * d_count + d]);
      lo[r] = Vec::fmadd(x, k0, lo[r]);
      hi[r] = Vec::fmadd(x, k1, hi[r]);
    }
  }
  NUCLEUS_UNROLL for (int r = 0; r < MQ; r++) {
    Vec::store(s + r * ld, lo[r]);
    Vec::store(s + r * ld + W, hi[r]);
  }
}

// o[r][0..N·W) = inv[r] · (Σ_j p[r][j] · v[j][0..N·W)) for MP rows; with `add`, inv[r] · (o[r] + Σ ...).
template <int N>
inline void output_tile(const float *p, int ld, const float *v, int64_t ldv, int keys, const float *inv, float *o,
                        int64_t ldo, bool add = false) {
  reg acc[MP][N];
  NUCLEUS_UNROLL for (int r = 0; r < MP; r++) NUCLEUS_UNROLL for (int c = 0; c < N; c++) {
    acc[r][c] = add ? Vec::load(o + r * ldo + c * W) : Vec::zero();
  }
  for (int j = 0; j < keys; j++) {
    reg values[N];
    NUCLEUS_UNROLL for (int c = 0; c < N; c++) values[c] = Vec::load(v + j * ldv + c * W);
    NUCLEUS_UNROLL for (int r = 0; r < MP; r++) {
      reg x = Vec::set1(p[r * ld + j]);
      NUCLEUS_UNROLL for (int c = 0; c < N; c++) acc[r][c] = Vec::fmadd(x, values[c], acc[r][c]);
    }
  }
  NUCLEUS_UNROLL for (int r = 0; r < MP; r++) {
    reg scale = Vec::set1(inv[r]);
    NUCLEUS_UNROLL for (int c = 0; c < N; c++) Vec::store(o + r * ldo + c * W, Vec::mul(acc[r][c], scale));
  }
}

// The mask as it applies to one query row.
struct RowMask {
  enum Kind { none, causal, bool_contiguous, bool_strided, add_contiguous, add_strided } kind = none;
  int visible = 0;  // causal: keys [0, visible) are seen
  const uint8_t *bools = nullptr;
  const float *adds = nullptr;
  int64_t stride = 0;
};

// The mask of query row i over keys [first, ...).
RowMask row_mask(const AttentionArgs &a, int b, int h, int i, int first) {
  RowMask m;
  const int64_t *st = a.mask_strides;
  int64_t offset = b * st[0] + h * st[1] + static_cast<int64_t>(i) * st[2] + static_cast<int64_t>(first) * st[3];
  switch (a.mask_kind) {
    case MaskKind::none: break;
    case MaskKind::causal:
      m.kind = RowMask::causal;
      m.visible = std::max(0, std::min(a.kv_len, i + a.kv_len - a.q_len + 1) - first);
      break;
    case MaskKind::boolean:
      m.bools = static_cast<const uint8_t *>(a.mask) + offset;
      m.stride = st[3];
      m.kind = st[3] == 1 ? RowMask::bool_contiguous : RowMask::bool_strided;
      break;
    case MaskKind::additive:
      m.adds = static_cast<const float *>(a.mask) + offset;
      m.stride = st[3];
      m.kind = st[3] == 1 ? RowMask::add_contiguous : RowMask::add_strided;
      break;
  }
  return m;
}

// Applies the mask to one score row in place and returns the row maximum.
float mask_and_max(float *x, int n, const RowMask &m) {
  reg vmax = Vec::set1(-std::numeric_limits<float>::infinity());
  float smax = -std::numeric_limits<float>::infinity();
  reg fill = Vec::set1(lowest);
  int j = 0;
  switch (m.kind) {
    case RowMask::none:
      for (; j + W <= n; j += W) vmax = Vec::max(vmax, Vec::load(x + j));
      for (; j < n; j++) smax = std::max(smax, x[j]);
      break;
    case RowMask::causal: {
      int visible = std::min(m.visible, n);
      for (; j + W <= visible; j += W) vmax = Vec::max(vmax, Vec::load(x + j));
      for (; j < visible; j++) smax = std::max(smax, x[j]);
      for (int t = visible; t < n; t++) x[t] = lowest;
      if (visible < n) smax = std::max(smax, lowest);
      break;
    }
    case RowMask::bool_contiguous:
      for (; j + W <= n; j += W) {
        reg t = Vec::keep_where(Vec::load(x + j), m.bools + j, fill);
        Vec::store(x + j, t);
        vmax = Vec::max(vmax, t);
      }
      for (; j < n; j++) {
        if (!m.bools[j]) x[j] = lowest;
        smax = std::max(smax, x[j]);
      }
      break;
    case RowMask::bool_strided:
      for (; j < n; j++) {
        if (!m.bools[j * m.stride]) x[j] = lowest;
        smax = std::max(smax, x[j]);
      }
      break;
    case RowMask::add_contiguous:
      for (; j + W <= n; j += W) {
        reg t = Vec::add(Vec::load(x + j), Vec::load(m.adds + j));
        Vec::store(x + j, t);
        vmax = Vec::max(vmax, t);
      }
      for (; j < n; j++) {
        x[j] += m.adds[j];
        smax = std::max(smax, x[j]);
      }
      break;
    case RowMask::add_strided:
      for (; j < n; j++) {
        x[j] += m.adds[j * m.stride];
        smax = std::max(smax, x[j]);
      }
      break;
  }
  return std::max(smax, Vec::reduce_max(vmax));
}

// x ← exp(x − max) over one row; returns Σ.
float exponentiate(float *x, int n, float row_max) {
  reg shift = Vec::set1(row_max), vsum = Vec::zero();
  float ssum = 0;
  int j = 0;
  for (; j + W <= n; j += W) {
    reg e = Vec::exp(Vec::sub(Vec::load(x + j), shift));
    Vec::store(x + j, e);
    vsum = Vec::add(vsum, e);
  }
  for (; j < n; j++) {
    x[j] = std::exp(x[j] - row_max);
    ssum += x[j];
  }
  return ssum + Vec::reduce_add(vsum);
}

struct Workspace {
  float *q, *s, *rows, *acc, *o;
};

// One task: query rows [i0, i0 + rows) of head h in batch b. Keys go chunk by chunk; with one chunk the softmax
// is exact (row maximum first, then exp and sum); with several it runs online: each chunk's scores are shifted by
// the running maximum, and what was accumulated so far is rescaled when the maximum grows.
void attend_block(const AttentionArgs &a, const Plan &p, const float *packed, Workspace w, int b, int h, int block) {
  const int d_count = a.head_dim, dv = a.value_dim, keys = a.kv_len;
  const int g = h / (a.q_heads / a.kv_heads);
  const int i0 = block * p.block_rows;
  const int rows = std::min(p.block_rows, a.q_len - i0);
  const int padded = static_cast<int>(round_up(rows, RU));
  const bool chunked = p.chunk_panels < p.panels;
  float *row_max = w.rows, *row_sum = w.rows + padded, *row_scale = w.rows + 2 * padded;

  // Query rows times the scale (as MLX does: the scale multiplies q before the product), zero below the last row.
  const float *q = a.q + b * a.q_strides[0] + h * a.q_strides[1] + static_cast<int64_t>(i0) * a.q_strides[2];
  for (int r = 0; r < padded; r++) {
    float *dst = w.q + r * d_count;
    if (r < rows) {
      const float *src = q + r * a.q_strides[2];
      for (int d = 0; d < d_count; d++) dst[d] = src[d] * a.scale;
    } else {
      for (int d = 0; d < d_count; d++) dst[d] = 0;
    }
  }

  const float *panels = packed + static_cast<size_t>(b * a.kv_heads + g) * p.panels * NR * d_count;
  const float *v = a.v + b * a.v_strides[0] + g * a.v_strides[1];
  const int64_t ldv = a.v_strides[2];
  const int64_t ldo = a.out_strides[2];
  float *out = a.out + b * a.out_strides[0] + h * a.out_strides[1] + static_cast<int64_t>(i0) * ldo;

  for (int first_panel = 0; first_panel < p.panels; first_panel += p.chunk_panels) {
    const int last_panel = std::min(p.panels, first_panel + p.chunk_panels);
    const int first = first_panel * NR, count = std::min(keys, last_panel * NR) - first;
    for (int panel = first_panel; panel < last_panel; panel++) {
      const float *kp = panels + static_cast<size_t>(panel) * d_count * NR;
      float *columns = w.s + (panel - first_panel) * NR;
      for (int r0 = 0; r0 < padded; r0 += MQ) score_tile(w.q + r0 * d_count, d_count, kp, columns + r0 * p.ld, p.ld);
    }

    for (int r = 0; r < padded; r++) {
      float *x = w.s + static_cast<size_t>(r) * p.ld;
      if (r >= rows) {
        row_scale[r] = 0;
        continue;
      }
      float chunk_max = mask_and_max(x, count, row_mask(a, b, h, i0 + r, first));
      if (first == 0) {
        row_max[r] = chunk_max;
        row_sum[r] = exponentiate(x, count, chunk_max);
      } else {
        float grown = std::max(row_max[r], chunk_max);
        float rescale = std::exp(row_max[r] - grown);
        row_sum[r] = row_sum[r] * rescale + exponentiate(x, count, grown);
        row_max[r] = grown;
        for (int c = 0; c < dv; c++) w.acc[r * dv + c] *= rescale;
      }
      row_scale[r] = chunked ? 1.0f : 1.0f / row_sum[r];
    }

    // Values times probabilities: straight into the output rows for one chunk, into the accumulator otherwise.
    const float *vc = v + static_cast<int64_t>(first) * ldv;
    for (int r0 = 0; r0 < padded; r0 += MP) {
      const float *pr = w.s + static_cast<size_t>(r0) * p.ld;
      const bool whole = r0 + MP <= rows;
      float *o = chunked ? w.acc + r0 * dv : (whole ? out + r0 * ldo : w.o);
      const int64_t ld_tile = chunked ? dv : (whole ? ldo : dv);
      const bool add = chunked && first > 0;
      int c = 0;
      for (; c + NV * W <= dv; c += NV * W) output_tile<NV>(pr, p.ld, vc + c, ldv, count, row_scale + r0, o + c, ld_tile, add);
      for (; c < dv; c += W) output_tile<1>(pr, p.ld, vc + c, ldv, count, row_scale + r0, o + c, ld_tile, add);
      if (!chunked && !whole) {
        for (int r = r0; r < rows; r++) std::memcpy(out + r * ldo, w.o + (r - r0) * dv, dv * sizeof(float));
      }
    }
  }

  if (chunked) {
    for (int r = 0; r < rows; r++) {
      const float inv = 1.0f / row_sum[r];
      const float *acc = w.acc + r * dv;
      float *dst = out + r * ldo;
      for (int c = 0; c < dv; c++) dst[c] = acc[c] * inv;
    }
  }
}

}  // namespace

std::size_t attention_scratch_bytes(const AttentionArgs &args) { return make_plan(args).bytes; }

void attention(const AttentionArgs &a) {
  const Plan p = make_plan(a);
  uintptr_t raw = reinterpret_cast<uintptr_t>(a.scratch);
  float *base = reinterpret_cast<float *>((raw + 63) / 64 * 64);
  float *packed = base;
  float *workspaces = base + p.packed_floats;

  constexpr int panels_per_task = 8;
  const int chunks = (p.panels + panels_per_task - 1) / panels_per_task;
  parallel_for(a.batch * a.kv_heads * chunks, [&](int task, int) {
    int bg = task / chunks, chunk = task % chunks;
    pack_keys(a, p, packed, bg, chunk * panels_per_task, std::min(p.panels, (chunk + 1) * panels_per_task));
  });

  parallel_for(a.batch * a.q_heads * p.blocks, [&](int task, int worker) {
    float *mine = workspaces + static_cast<size_t>(worker) * p.worker_floats;
    float *s_area = mine + p.q_floats, *row_area = s_area + p.s_floats, *acc_area = row_area + p.row_floats;
    Workspace w{mine, s_area, row_area, acc_area, acc_area + p.acc_floats};
    int block = task % p.blocks, bh = task / p.blocks;
    attend_block(a, p, packed, w, bh / a.q_heads, bh % a.q_heads, block);
  });
}
