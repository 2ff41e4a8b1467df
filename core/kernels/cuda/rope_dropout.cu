// Rotary embedding and dropout on the GPU. Dropout draws the same Philox values at the same
// element indices as the CPU reference, so masks are bit-identical across devices.
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>

#include "core/base/philox.h"
#include "core/kernels/cuda/cuda_util.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

// One thread per (s, b, n, k < rot/2) pair of rotated elements, plus pass-through of dims >= rot.
// Index is int32_t when every element index fits (the usual case: 32-bit division is several
// times cheaper than 64-bit on the GPU), else int64_t.
template <typename T, typename Index>
__global__ void rope_kernel(const T* x, const int64_t* positions, const float* inv_freq,
                            Index s, Index b, Index n, Index d, Index rot,
                            float interpolation, float direction, T* y) {
  Index half = rot / 2;
  Index pairs = s * b * n * half;
  for (Index t = Index(blockIdx.x) * blockDim.x + threadIdx.x; t < pairs; t += Index(gridDim.x) * blockDim.x) {
    Index k = t % half;
    Index head_row = t / half;  // (i·b + r)·n + head
    Index sb = head_row / n;    // i·b + r
    Index i = sb / b;
    float p = float(positions ? positions[sb] : i) / interpolation;
    float angle = p * inv_freq[k];
    float c, sn;
    sincosf(angle, &sn, &c);
    sn *= direction;
    Index base = head_row * d;
    float x1 = to_float(x[base + k]), x2 = to_float(x[base + k + half]);
    y[base + k] = from_float<T>(x1 * c - x2 * sn);
    y[base + k + half] = from_float<T>(x2 * c + x1 * sn);
    if (x != y) {
      for (Index e = rot + k; e < d; e += half) y[base + e] = x[base + e];
    }
  }
}

// The rotation frequencies on the device, computed on the host exactly as the CPU reference
// does and uploaded once per (rotated dims, base, device): a host-to-device copy per call would
// stall the stream.
const Tensor& inverse_frequencies(int64_t rot, float base) {
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, float, int>, Tensor> cache;
  int device = 0;
  MCPP_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  Tensor& cached = cache[{rot, base, device}];
  if (!cached.defined()) {
    const int64_t half = rot / 2;
    Tensor host_freq = Tensor::empty(Shape{half});
    float* freq = host_freq.data<float>();
    for (int64_t k = 0; k < half; ++k) freq[k] = float(1.0 / std::pow(double(base), double(2 * k) / double(rot)));
    cached = Tensor::empty(Shape{half}, DType::F32, Device::CUDA);
    cached.copy_from(host_freq);
  }
  return cached;
}

template <typename T>
void rotate(const char* op, const Tensor& x, const Tensor& positions, const RopeOptions& options,
            const Tensor& y, float direction) {
  check(x.rank() == 4, std::string(op) + ": input must be [s, b, n, d], got " + x.describe());
  require_shape(op, "output", y, x.shape());
  int64_t s = x.dim(0), b = x.dim(1), n = x.dim(2), d = x.dim(3);
  int64_t rot = int64_t(double(d) * double(options.rotary_percent));
  check(rot > 0 && rot <= d && rot % 2 == 0,
        std::string(op) + ": head dim × rotary percent must be an even number in (0, d], got " +
            std::to_string(rot));
  check(options.seq_len_interpolation_factor > 0,
        std::string(op) + ": seq_len_interpolation_factor must be positive");
  if (positions.defined()) {
    require(op, "positions", positions, DType::I64);
    require_shape(op, "positions", positions, Shape{s, b});
  }
  int64_t half = rot / 2;
  const Tensor& inv_freq = inverse_frequencies(rot, options.base);
  int64_t pairs = s * b * n * half;
  if (pairs == 0) return;
  if (x.numel() < (int64_t(1) << 31)) {
    rope_kernel<T, int32_t><<<elementwise_blocks(pairs), 256, 0, current_stream()>>>(
        x.data<T>(), cptr<int64_t>(positions), inv_freq.data<float>(), int32_t(s), int32_t(b), int32_t(n),
        int32_t(d), int32_t(rot), options.seq_len_interpolation_factor, direction, y.data<T>());
  } else {
    rope_kernel<T, int64_t><<<elementwise_blocks(pairs), 256, 0, current_stream()>>>(
        x.data<T>(), cptr<int64_t>(positions), inv_freq.data<float>(), s, b, n, d, rot,
        options.seq_len_interpolation_factor, direction, y.data<T>());
  }
  MCPP_CUDA_CHECK_LAUNCH();
}

// One thread per aligned Philox block of 4 global indices, as the CPU reference.
template <typename T>
__global__ void dropout_kernel(const T* in, T* out, int64_t n, float p, float keep_scale,
                               uint64_t seed, uint64_t stream, uint64_t offset) {
  uint64_t first = offset, last = offset + uint64_t(n);
  int64_t blocks = int64_t((last + 3) / 4 - first / 4);
  MCPP_GRID_STRIDE(t, blocks) {
    uint64_t block = first / 4 + uint64_t(t);
    float u[4];
    philox_uniform4(seed, stream, block, u);
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t index = block * 4 + uint64_t(lane);
      if (index < first || index >= last) continue;
      int64_t i = int64_t(index - first);
      out[i] = u[lane] >= p ? from_float<T>(to_float(in[i]) * keep_scale) : from_float<T>(0.0f);
    }
  }
}

void apply_mask(const char* op, const Tensor& in, float p, const PhiloxStream& rng,
                const Tensor& out) {
  DType dtype = activation_dtype(op, {&in, &out});
  require_shape(op, "output", out, in.shape());
  check(p >= 0.0f && p < 1.0f, std::string(op) + ": dropout probability must be in [0, 1)");
  int64_t n = in.numel();
  if (n == 0) return;
  if (p == 0.0f) {
    if (in.raw_data() != out.raw_data()) out.copy_from(in);
    return;
  }
  float keep_scale = 1.0f / (1.0f - p);
  int64_t blocks = int64_t((rng.offset + uint64_t(n) + 3) / 4 - rng.offset / 4);
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    dropout_kernel<<<elementwise_blocks(blocks), 256, 0, current_stream()>>>(
        in.data<T>(), out.data<T>(), n, p, keep_scale, rng.seed, rng.stream, rng.offset);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void rope_forward(const Tensor& x, const Tensor& positions, const RopeOptions& options,
                  const Tensor& y) {
  DType dtype = activation_dtype("rope_forward", {&x, &y});
  dispatch_float(dtype, [&](auto tag) {
    rotate<decltype(tag)>("rope_forward", x, positions, options, y, 1.0f);
  });
}

void rope_backward(const Tensor& dy, const Tensor& positions, const RopeOptions& options,
                   const Tensor& dx) {
  DType dtype = activation_dtype("rope_backward", {&dy, &dx});
  dispatch_float(dtype, [&](auto tag) {
    rotate<decltype(tag)>("rope_backward", dy, positions, options, dx, -1.0f);
  });
}

void dropout_forward(const Tensor& x, float p, const PhiloxStream& rng, const Tensor& y) {
  apply_mask("dropout_forward", x, p, rng, y);
}

void dropout_backward(const Tensor& dy, float p, const PhiloxStream& rng, const Tensor& dx) {
  apply_mask("dropout_backward", dy, p, rng, dx);
}

}  // namespace mcpp::core::gpu
