// scaled_dot_product_attention through our fused CPU kernel: an MLX primitive whose eval_cpu dispatches the kernel
// (kernel_attention_<isa>.cpp) on the stream's thread. Anything the kernel does not cover (GPU streams, dtypes
// other than float32, empty shapes, the "mlx" selection) goes to MLX's own implementation.
#include "kernel_attention_op.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernel_attention.hpp"
#include "kernel_cpu.hpp"
#include "kernel_primitive.hpp"
#include "mlx/primitives.h"

namespace mx = mlx::core;

namespace nucleus::kernels {

namespace {

std::atomic<int> chunk_keys{0};

}  // namespace

int set_attention_chunk_keys(int keys) { return chunk_keys.exchange(std::max(0, keys)); }
int attention_chunk_keys() { return chunk_keys.load(); }

namespace {

// The variant to run for this problem: the selected one, or a narrower one when the value width does not fit it.
Isa variant_for(Isa wanted, int value_dim) {
  if (wanted == Isa::avx512 && value_dim % 16 != 0) wanted = Isa::avx2;
  if (wanted == Isa::avx2 && value_dim % 8 != 0) wanted = Isa::portable;
  return wanted;
}

size_t scratch_bytes(Isa isa, const AttentionArgs &args) {
  switch (isa) {
    case Isa::avx512: return avx512::attention_scratch_bytes(args);
    case Isa::avx2: return avx2::attention_scratch_bytes(args);
    default: return portable::attention_scratch_bytes(args);
  }
}

void run(Isa isa, const AttentionArgs &args) {
  switch (isa) {
    case Isa::avx512: avx512::attention(args); break;
    case Isa::avx2: avx2::attention(args); break;
    default: portable::attention(args); break;
  }
}

// A view with a contiguous last axis (what the kernel reads), copying the rare input without one.
mx::array with_unit_last_stride(const mx::array &x, mx::Stream stream, std::vector<mx::array> &temporaries) {
  if (x.strides().back() == 1 || x.shape().back() == 1) return x;
  return contiguous_copy(x, stream, temporaries);
}

class CpuAttention : public mx::UnaryPrimitive {
 public:
  CpuAttention(mx::Stream stream, float scale, MaskKind mask, Isa isa, int chunk_keys)
      : mx::UnaryPrimitive(stream), scale_(scale), mask_(mask), isa_(isa), chunk_keys_(chunk_keys) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    const mx::array q = with_unit_last_stride(inputs[0], stream(), temporaries);
    const mx::array k = with_unit_last_stride(inputs[1], stream(), temporaries);
    const mx::array v = with_unit_last_stride(inputs[2], stream(), temporaries);
    // The output is laid out [B, L, Hq, Dv] in memory (strides say [B, Hq, L, Dv]): the models transpose it back to
    // [B, L, Hq·Dv] next, which is then a free reshape instead of a copy.
    const int64_t heads = out.shape(1), length = out.shape(2), width = out.shape(3);
    mx::Strides strides = {length * heads * width, width, heads * width, 1};
    out.set_data(mx::allocator::malloc(out.nbytes()), out.size(), strides, dense_flags(out.shape(), strides));

    AttentionArgs args;
    args.q = q.data<float>();
    args.k = k.data<float>();
    args.v = v.data<float>();
    args.out = out.data<float>();
    args.batch = q.shape(0);
    args.q_heads = q.shape(1);
    args.kv_heads = k.shape(1);
    args.q_len = q.shape(2);
    args.kv_len = k.shape(2);
    args.head_dim = q.shape(3);
    args.value_dim = v.shape(3);
    for (int axis = 0; axis < 3; axis++) {
      args.q_strides[axis] = q.strides()[axis];
      args.k_strides[axis] = k.strides()[axis];
      args.v_strides[axis] = v.strides()[axis];
      args.out_strides[axis] = strides[axis];
    }
    args.scale = scale_;
    args.max_chunk_keys = chunk_keys_;
    args.mask_kind = mask_;
    if (mask_ == MaskKind::boolean || mask_ == MaskKind::additive) {
      const mx::array &mask = inputs[3];
      args.mask = mask_ == MaskKind::boolean ? static_cast<const void *>(mask.data<bool>())
                                              : static_cast<const void *>(mask.data<float>());
      for (int axis = 0; axis < 4; axis++) args.mask_strides[axis] = mask.strides()[axis];
    }

    // Working memory from MLX's allocator (counted in its memory statistics), freed when the kernel is done.
    auto scratch = std::make_shared<mx::allocator::Data>(mx::allocator::malloc(scratch_bytes(isa_, args)));
    args.scratch = scratch->buffer().raw_ptr();

    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([args, isa = isa_, scratch]() { run(isa, args); });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuAttention runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuAttention"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuAttention *>(&other);
    return that && that->scale_ == scale_ && that->mask_ == mask_ && that->isa_ == isa_ &&
           that->chunk_keys_ == chunk_keys_;
  }

  std::vector<mx::Shape> output_shapes(const std::vector<mx::array> &inputs) override {
    mx::Shape shape = inputs[0].shape();
    shape.back() = inputs[2].shape(-1);
    return {shape};
  }

 private:
  float scale_;
  MaskKind mask_;
  Isa isa_;
  int chunk_keys_;
};

void validate(const mx::array &q, const mx::array &k, const mx::array &v) {
  auto fail = [](const std::string &message) { throw std::invalid_argument("[scaled_dot_product_attention] " + message); };
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) fail("queries, keys and values must be rank 4 [B, H, L, D]");
  if (k.shape(0) != q.shape(0) || v.shape(0) != q.shape(0)) fail("queries, keys and values differ in batch size");
  if (k.shape(3) != q.shape(3)) fail("queries and keys differ in head dimension");
  if (k.shape(1) != v.shape(1) || k.shape(2) != v.shape(2)) fail("keys and values differ in heads or length");
  if (k.shape(1) == 0 || q.shape(1) % k.shape(1) != 0) fail("query heads must be a multiple of key/value heads");
}

}  // namespace

mx::array scaled_dot_product_attention(const mx::array &queries, const mx::array &keys, const mx::array &values,
                                       float scale, const std::string &mask_mode,
                                       const std::optional<mx::array> &mask) {
  mx::Stream stream = mx::to_stream({});
  bool ours = runs_on_our_kernels(stream, {&queries, &keys, &values}) && queries.size() > 0 && keys.size() > 0 &&
              values.size() > 0 && (mask_mode.empty() || mask_mode == "causal" || mask_mode == "array");
  if (ours && mask_mode == "array") {
    ours = mask.has_value() && mask->ndim() <= 4 &&
           (mask->dtype() == mx::bool_ || mx::promote_types(mask->dtype(), mx::float32) == mx::float32);
  }
  if (!ours) return mx::fast::scaled_dot_product_attention(queries, keys, values, scale, mask_mode, mask);

  validate(queries, keys, values);
  std::vector<mx::array> inputs = {queries, keys, values};
  MaskKind kind = MaskKind::none;
  if (mask_mode == "causal") {
    if (mask) throw std::invalid_argument("[scaled_dot_product_attention] a causal mask takes no mask array");
    kind = MaskKind::causal;
  } else if (mask_mode == "array") {
    kind = mask->dtype() == mx::bool_ ? MaskKind::boolean : MaskKind::additive;
    mx::array m = kind == MaskKind::boolean ? *mask : mx::astype(*mask, mx::float32, stream);
    mx::Shape target = queries.shape();
    target.back() = keys.shape(2);
    inputs.push_back(mx::broadcast_to(m, target, stream));
  }
  mx::Shape shape = queries.shape();
  shape.back() = values.shape(3);
  Isa isa = variant_for(selected(), values.shape(3));
  return mx::array(std::move(shape), mx::float32, std::make_shared<CpuAttention>(stream, scale, kind, isa, attention_chunk_keys()),
                   std::move(inputs));
}

}  // namespace nucleus::kernels
