// GELU (tanh approximation, optional fused bias) and SwiGLU on the GPU; same formulas as the
// CPU reference in core/kernels/cpu/gelu.cpp and swiglu.cpp.
#include "core/kernels/cuda/column_reduce.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

template <typename T>
__global__ void gelu_forward_kernel(const T* x, const T* bias, T* y, int64_t n, int64_t f) {
  MCPP_GRID_STRIDE(i, n) {
    float z = to_float(x[i]) + (bias ? to_float(bias[i % f]) : 0.0f);
    y[i] = from_float<T>(0.5f * z * (1.0f + tanhf(kSqrt2OverPi * (z + kCubic * z * z * z))));
  }
}

template <typename T>
__global__ void gelu_backward_kernel(const T* x, const T* bias, const T* dy, T* dx, int64_t n,
                                     int64_t f) {
  MCPP_GRID_STRIDE(i, n) {
    float z = to_float(x[i]) + (bias ? to_float(bias[i % f]) : 0.0f);
    float t = tanhf(kSqrt2OverPi * (z + kCubic * z * z * z));
    float derivative = 0.5f * (1.0f + t) +
                       0.5f * z * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * z * z);
    dx[i] = from_float<T>(to_float(dy[i]) * derivative);
  }
}

__device__ inline float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

template <typename T>
__global__ void swiglu_forward_kernel(const T* x, T* y, int64_t n, int64_t f) {
  MCPP_GRID_STRIDE(i, n) {
    int64_t r = i / f, c = i % f;
    float gate = to_float(x[r * 2 * f + c]), up = to_float(x[r * 2 * f + f + c]);
    y[i] = from_float<T>(gate * sigmoid(gate) * up);
  }
}

template <typename T>
__global__ void swiglu_backward_kernel(const T* x, const T* dy, T* dx, int64_t n, int64_t f) {
  MCPP_GRID_STRIDE(i, n) {
    int64_t r = i / f, c = i % f;
    float gate = to_float(x[r * 2 * f + c]), up = to_float(x[r * 2 * f + f + c]);
    float s = sigmoid(gate), g = to_float(dy[i]);
    float dgate = g * up * s * (1.0f + gate * (1.0f - s));
    float dup = g * gate * s;
    dx[r * 2 * f + c] = from_float<T>(dgate);
    dx[r * 2 * f + f + c] = from_float<T>(dup);
  }
}

// The same, 16 bytes at a time (f a multiple of the pack size): pack p covers elements
// [p·K, p·K + K) of y, all in one row.
template <typename T>
__global__ void swiglu_forward_packed_kernel(const T* x, T* y, int64_t packs, int64_t f) {
  constexpr int K = Pack16<T>::kSize;
  const int64_t packs_per_row = f / K;
  MCPP_GRID_STRIDE(p, packs) {
    const int64_t r = p / packs_per_row, c = (p % packs_per_row) * K;
    Pack16<T> gate, up, out;
    gate.bits = *reinterpret_cast<const uint4*>(x + r * 2 * f + c);
    up.bits = *reinterpret_cast<const uint4*>(x + r * 2 * f + f + c);
#pragma unroll
    for (int e = 0; e < K; ++e) {
      const float g = gate.get(e);
      out.set(e, g * sigmoid(g) * up.get(e));
    }
    *reinterpret_cast<uint4*>(y + r * f + c) = out.bits;
  }
}

template <typename T>
__global__ void swiglu_backward_packed_kernel(const T* x, const T* dy, T* dx, int64_t packs, int64_t f) {
  constexpr int K = Pack16<T>::kSize;
  const int64_t packs_per_row = f / K;
  MCPP_GRID_STRIDE(p, packs) {
    const int64_t r = p / packs_per_row, c = (p % packs_per_row) * K;
    Pack16<T> gate, up, grad, dgate, dup;
    gate.bits = *reinterpret_cast<const uint4*>(x + r * 2 * f + c);
    up.bits = *reinterpret_cast<const uint4*>(x + r * 2 * f + f + c);
    grad.bits = *reinterpret_cast<const uint4*>(dy + r * f + c);
#pragma unroll
    for (int e = 0; e < K; ++e) {
      const float g = gate.get(e), u = up.get(e), d = grad.get(e);
      const float s = sigmoid(g);
      dgate.set(e, d * u * s * (1.0f + g * (1.0f - s)));
      dup.set(e, d * g * s);
    }
    *reinterpret_cast<uint4*>(dx + r * 2 * f + c) = dgate.bits;
    *reinterpret_cast<uint4*>(dx + r * 2 * f + f + c) = dup.bits;
  }
}

int64_t gelu_columns(const char* op, const Tensor& x, const Tensor& bias) {
  check(x.rank() >= 1, std::string(op) + ": x must have at least one dimension");
  int64_t f = x.dim(-1);
  if (bias.defined()) require_shape(op, "bias", bias, Shape{f});
  return f;
}

int64_t swiglu_half(const char* op, const Tensor& x, const Tensor& half, const char* half_name) {
  check(x.rank() >= 1 && x.dim(-1) % 2 == 0,
        std::string(op) + ": x must have an even last dimension, got " + x.describe());
  int64_t f = x.dim(-1) / 2;
  Shape expected = x.shape();
  expected[-1] = f;
  require_shape(op, half_name, half, expected);
  return f;
}

}  // namespace

void gelu_forward(const Tensor& x, const Tensor& bias, const Tensor& y) {
  const char* op = "gelu_forward";
  DType dtype = activation_dtype(op, {&x, &bias, &y});
  int64_t f = gelu_columns(op, x, bias);
  require_shape(op, "y", y, x.shape());
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    gelu_forward_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(
        x.data<T>(), cptr<T>(bias), y.data<T>(), n, f);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void gelu_backward(const Tensor& x, const Tensor& bias, const Tensor& dy, const Tensor& dx,
                   const Tensor& dbias) {
  const char* op = "gelu_backward";
  DType dtype = activation_dtype(op, {&x, &bias, &dy, &dx});
  require_optional(op, "dbias", dbias, DType::F32);
  int64_t f = gelu_columns(op, x, bias);
  require_shape(op, "dy", dy, x.shape());
  require_shape(op, "dx", dx, x.shape());
  if (dbias.defined()) require_shape(op, "dbias", dbias, Shape{f});
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    gelu_backward_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(
        x.data<T>(), cptr<T>(bias), dy.data<T>(), dx.data<T>(), n, f);
    MCPP_CUDA_CHECK_LAUNCH();
    // The bias gradient sums dx as stored (rounded to T), as the CPU sums its stored dx.
    if (dbias.defined()) accumulate_columns(n / f, f, MatrixTerm<T>{dx.data<T>(), f}, dbias.data<float>());
  });
}

void swiglu_forward(const Tensor& x, const Tensor& y) {
  const char* op = "swiglu_forward";
  DType dtype = activation_dtype(op, {&x, &y});
  int64_t f = swiglu_half(op, x, y, "y");
  int64_t n = y.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int K = Pack16<T>::kSize;
    if (f % K == 0) {
      swiglu_forward_packed_kernel<<<elementwise_blocks(n / K), 256, 0, current_stream()>>>(x.data<T>(), y.data<T>(),
                                                                                           n / K, f);
    } else {
      swiglu_forward_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(x.data<T>(), y.data<T>(), n, f);
    }
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void swiglu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const char* op = "swiglu_backward";
  DType dtype = activation_dtype(op, {&x, &dy, &dx});
  int64_t f = swiglu_half(op, x, dy, "dy");
  require_shape(op, "dx", dx, x.shape());
  int64_t n = dy.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int K = Pack16<T>::kSize;
    if (f % K == 0) {
      swiglu_backward_packed_kernel<<<elementwise_blocks(n / K), 256, 0, current_stream()>>>(
          x.data<T>(), dy.data<T>(), dx.data<T>(), n / K, f);
    } else {
      swiglu_backward_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(x.data<T>(), dy.data<T>(),
                                                                                  dx.data<T>(), n, f);
    }
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace mcpp::core::gpu
