// Elementwise helpers on the GPU (grid-stride loops, fp32 arithmetic).
#include "core/kernels/cuda/column_reduce.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* out, int64_t n) {
  MCPP_GRID_STRIDE(i, n) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T>
__global__ void axpy_kernel(float alpha, const T* x, T* y, int64_t n) {
  MCPP_GRID_STRIDE(i, n) y[i] = from_float<T>(to_float(y[i]) + alpha * to_float(x[i]));
}

template <typename T>
__global__ void scale_kernel(T* x, float alpha, int64_t n) {
  MCPP_GRID_STRIDE(i, n) x[i] = from_float<T>(to_float(x[i]) * alpha);
}

template <typename T>
__global__ void bias_add_kernel(const T* x, const T* bias, T* out, int64_t n, int64_t h) {
  MCPP_GRID_STRIDE(i, n) out[i] = from_float<T>(to_float(x[i]) + to_float(bias[i % h]));
}

// Per-block fp64 partial sums of squares, then one block adds the partials in order.
template <typename T>
__global__ void square_partials_kernel(const T* x, int64_t n, double* partials) {
  double sum = 0.0;
  MCPP_GRID_STRIDE(i, n) {
    double v = to_float(x[i]);
    sum += v * v;
  }
  __shared__ double shared[256];
  shared[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

__global__ void sum_partials_kernel(const double* partials, int count, double* total) {
  double sum = 0.0;
  for (int i = 0; i < count; ++i) sum += partials[i];
  *total = sum;
}

}  // namespace

void add(const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* op = "add";
  DType dtype = activation_dtype(op, {&a, &b, &out});
  require_numel(op, "b", b, a.numel());
  require_numel(op, "out", out, a.numel());
  int64_t n = a.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    add_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(a.data<T>(), b.data<T>(),
                                                                    out.data<T>(), n);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void axpy(float alpha, const Tensor& x, const Tensor& y) {
  const char* op = "axpy";
  DType dtype = activation_dtype(op, {&x, &y});
  require_numel(op, "y", y, x.numel());
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    axpy_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(alpha, x.data<T>(),
                                                                     y.data<T>(), n);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void scale(const Tensor& x, float alpha) {
  DType dtype = activation_dtype("scale", {&x});
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    scale_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(x.data<T>(), alpha, n);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void bias_add(const Tensor& x, const Tensor& bias, const Tensor& out) {
  const char* op = "bias_add";
  DType dtype = activation_dtype(op, {&x, &bias, &out});
  check(bias.rank() == 1, std::string(op) + ": bias must be [h], got " + bias.describe());
  int64_t h = bias.dim(0);
  rows_of(op, "x", x, h);
  require_shape(op, "out", out, x.shape());
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    bias_add_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(
        x.data<T>(), bias.data<T>(), out.data<T>(), n, h);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void bias_grad(const Tensor& dy, const Tensor& dbias) {
  const char* op = "bias_grad";
  DType dtype = activation_dtype(op, {&dy});
  require(op, "dbias", dbias, DType::F32);
  check(dbias.rank() == 1, std::string(op) + ": dbias must be [h], got " + dbias.describe());
  int64_t h = dbias.dim(0);
  int64_t rows = rows_of(op, "dy", dy, h);
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    accumulate_columns(rows, h, MatrixTerm<T>{dy.data<T>(), h}, dbias.data<float>());
  });
}

double sum_of_squares(const Tensor& x) { return sum_of_squares(std::span<const Tensor>(&x, 1)); }

// Per part: block partials, then the part's total in its own slot; then the totals summed in
// order on the device, so the result equals adding per-part results on the host, in one sync.
double sum_of_squares(std::span<const Tensor> parts) {
  constexpr int kBlocks = 512;
  const int64_t count = static_cast<int64_t>(parts.size());
  // 8-byte slots: [kBlocks partials | count part totals | the sum]
  Tensor scratch = Tensor::empty(Shape{kBlocks + count + 1}, DType::I64, Device::CUDA);
  double* partials = reinterpret_cast<double*>(scratch.data<int64_t>());
  double* totals = partials + kBlocks;
  for (int64_t p = 0; p < count; ++p) {
    const Tensor& x = parts[p];
    const DType dtype = activation_dtype("sum_of_squares", {&x});
    const int64_t n = x.numel();
    if (n == 0) {
      MCPP_CUDA_CHECK(cudaMemsetAsync(totals + p, 0, sizeof(double), current_stream()));
      continue;
    }
    dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      square_partials_kernel<<<kBlocks, 256, 0, current_stream()>>>(x.data<T>(), n, partials);
    });
    MCPP_CUDA_CHECK_LAUNCH();
    sum_partials_kernel<<<1, 1, 0, current_stream()>>>(partials, kBlocks, totals + p);
    MCPP_CUDA_CHECK_LAUNCH();
  }
  sum_partials_kernel<<<1, 1, 0, current_stream()>>>(totals, static_cast<int>(count), totals + count);
  MCPP_CUDA_CHECK_LAUNCH();
  double total = 0.0;
  MCPP_CUDA_CHECK(cudaMemcpyAsync(&total, totals + count, sizeof total, cudaMemcpyDeviceToHost, current_stream()));
  MCPP_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  return total;
}

}  // namespace mcpp::core::gpu
