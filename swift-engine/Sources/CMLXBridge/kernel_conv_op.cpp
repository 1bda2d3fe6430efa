// 2-D convolution as blocks of a matrix product on our threads. MLX's CPU convolution first copies every input
// patch of the whole image into one matrix (9 × the input for a 3×3 kernel: 4.8 GB for the VAE's last layers at
// 1024²) with a single-threaded strided copy, then runs one product. Here each task takes a block of output pixels,
// gathers just their patches into the worker's scratch ([pixels, kh·kw·C], zeros where the patch leaves the
// image) and multiplies it by the weight ([O, kh·kw·C], the OHWI layout as it is) with a single-threaded sgemm.
// A 1×1 convolution with stride 1 and no padding is a product on the input itself.
#include "kernel_conv_op.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "kernel_blas.hpp"
#include "kernel_primitive.hpp"
#include "mlx/primitives.h"

namespace mx = mlx::core;

namespace nucleus::kernels {

namespace {

struct ConvShape {
  int batch, height, width, channels;      // input
  int out_height, out_width, out_channels;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t depth() const { return static_cast<int64_t>(kernel_h) * kernel_w * channels; }
  bool pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

// Output pixels per task: a patch block of about 2 MiB (it stays in the core's L2 cache next to the weight, and
// the weight, which BLAS copies for every product, is copied once per hundreds of pixels).
int64_t block_pixels_for(const ConvShape &s) {
  int64_t pixels = (2 << 20) / (s.depth() * static_cast<int64_t>(sizeof(float)));
  return std::min<int64_t>(1024, std::max<int64_t>(64, pixels / 64 * 64));
}

// Patches of output pixels [first, first + count) as rows of `patches` (row length depth).
void gather_patches(const ConvShape &s, const float *x, int64_t first, int64_t count, float *patches) {
  const int64_t depth = s.depth(), row_bytes = s.channels * sizeof(float);
  for (int64_t p = 0; p < count; p++) {
    int64_t pixel = first + p;
    int ox = static_cast<int>(pixel % s.out_width);
    int oy = static_cast<int>((pixel / s.out_width) % s.out_height);
    int64_t n = pixel / (static_cast<int64_t>(s.out_width) * s.out_height);
    float *row = patches + p * depth;
    for (int ky = 0; ky < s.kernel_h; ky++) {
      int iy = oy * s.stride_h - s.pad_h + ky * s.dilation_h;
      for (int kx = 0; kx < s.kernel_w; kx++) {
        int ix = ox * s.stride_w - s.pad_w + kx * s.dilation_w;
        float *dst = row + (static_cast<int64_t>(ky) * s.kernel_w + kx) * s.channels;
        if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) {
          std::memset(dst, 0, row_bytes);
        } else {
          std::memcpy(dst, x + ((n * s.height + iy) * s.width + ix) * s.channels, row_bytes);
        }
      }
    }
  }
}

class CpuConv2d : public mx::UnaryPrimitive {
 public:
  CpuConv2d(mx::Stream stream, ConvShape shape) : mx::UnaryPrimitive(stream), shape_(shape) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array x = inputs[0], w = inputs[1];
    if (!x.flags().row_contiguous) x = contiguous_copy(x, stream(), temporaries);
    if (!w.flags().row_contiguous) w = contiguous_copy(w, stream(), temporaries);
    out.set_data(mx::allocator::malloc(out.nbytes()));
    const ConvShape s = shape_;
    const int64_t pixels = static_cast<int64_t>(s.batch) * s.out_height * s.out_width;
    const int64_t block_pixels = block_pixels_for(s);
    std::shared_ptr<mx::allocator::Data> scratch;
    float *patches = nullptr;
    if (!s.pointwise()) {
      scratch = std::make_shared<mx::allocator::Data>(
          mx::allocator::malloc(static_cast<size_t>(worker_count()) * block_pixels * s.depth() * sizeof(float)));
      patches = static_cast<float *>(scratch->buffer().raw_ptr());
    }
    const float *px = x.data<float>(), *pw = w.data<float>();
    float *py = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([s, pixels, block_pixels, px, pw, py, patches, scratch]() {
      SgemmFunction gemm = sgemm();
      const int64_t depth = s.depth();
      const int tasks = static_cast<int>((pixels + block_pixels - 1) / block_pixels);
      parallel_for(tasks, [&](int task, int worker) {
        const int64_t first = task * block_pixels, count = std::min(block_pixels, pixels - first);
        const float *a = px + first * s.channels;  // a 1×1 convolution multiplies the input rows directly
        if (patches) {
          float *mine = patches + static_cast<int64_t>(worker) * block_pixels * depth;
          gather_patches(s, px, first, count, mine);
          a = mine;
        }
        gemm(cblas_row_major, cblas_no_trans, cblas_trans, static_cast<int>(count), s.out_channels,
             static_cast<int>(depth), 1.0f, a, static_cast<int>(depth), pw, static_cast<int>(depth), 0.0f,
             py + first * s.out_channels, s.out_channels);
      });
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuConv2d runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuConv2d"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuConv2d *>(&other);
    return that && std::memcmp(&that->shape_, &shape_, sizeof(ConvShape)) == 0;
  }

 private:
  ConvShape shape_;
};

}  // namespace

std::optional<mx::array> try_conv2d(const mx::array &x, const mx::array &weight, int stride_h, int stride_w, int pad_h,
                                    int pad_w, int dilation_h, int dilation_w, int groups) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&x, &weight}) || !sgemm() || groups != 1 || x.ndim() != 4 || weight.ndim() != 4 ||
      x.shape(3) != weight.shape(3) || stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1 || pad_h < 0 ||
      pad_w < 0 || x.size() == 0 || weight.size() == 0) {
    return std::nullopt;
  }
  ConvShape s{};
  s.batch = x.shape(0);
  s.height = x.shape(1);
  s.width = x.shape(2);
  s.channels = x.shape(3);
  s.out_channels = weight.shape(0);
  s.kernel_h = weight.shape(1);
  s.kernel_w = weight.shape(2);
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  s.dilation_h = dilation_h;
  s.dilation_w = dilation_w;
  int64_t span_h = static_cast<int64_t>(dilation_h) * (s.kernel_h - 1) + 1, span_w = static_cast<int64_t>(dilation_w) * (s.kernel_w - 1) + 1;
  int64_t out_h = (static_cast<int64_t>(s.height) + 2 * pad_h - span_h) / stride_h + 1;
  int64_t out_w = (static_cast<int64_t>(s.width) + 2 * pad_w - span_w) / stride_w + 1;
  if (out_h < 1 || out_w < 1 || s.depth() > (1 << 30)) return std::nullopt;  // let MLX report it
  s.out_height = static_cast<int>(out_h);
  s.out_width = static_cast<int>(out_w);
  return mx::array({s.batch, s.out_height, s.out_width, s.out_channels}, mx::float32,
                   std::make_shared<CpuConv2d>(stream, s), {x, weight});
}

}  // namespace nucleus::kernels
