// Elementwise helpers on the GPU (grid-stride loops, fp32 arithmetic).
#include <algorithm>
#include <vector>

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

// One part of a batched sum of squares: `n` elements of type T at `data`.
struct SquaredPart {
  const void* data;
  int64_t n;
};

// Grid (blocks per part, parts): block x of part y strides over the part and writes one partial
// at partials[y · gridDim.x + x].
template <typename T>
__global__ void square_parts_kernel(const SquaredPart* parts, double* partials) {
  const SquaredPart part = parts[blockIdx.y];
  const T* x = static_cast<const T*>(part.data);
  double sum = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < part.n; i += int64_t(gridDim.x) * blockDim.x) {
    const double v = to_float(x[i]);
    sum += v * v;
  }
  const double total = block_sum(sum);
  if (threadIdx.x == 0) partials[int64_t(blockIdx.y) * gridDim.x + blockIdx.x] = total;
}

// One block of 256 threads sums `count` partials in a fixed order (deterministic).
__global__ void sum_partials_kernel(const double* partials, int64_t count, double* total) {
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  const double all = block_sum(sum);
  if (threadIdx.x == 0) *total = all;
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

void scale(const Tensor& x, float alpha) { scale(x, alpha, current_stream()); }

void scale(const Tensor& x, float alpha, cudaStream_t stream) {
  DType dtype = activation_dtype("scale", {&x});
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    scale_kernel<<<elementwise_blocks(n), 256, 0, stream>>>(x.data<T>(), alpha, n);
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

// Every part in one launch: each part's blocks write partials, one block sums them all in a fixed
// order, one sync. The part table goes to the device with the launch.
double sum_of_squares(std::span<const Tensor> parts) {
  std::vector<SquaredPart> table;
  int64_t largest = 0;
  DType dtype = DType::F32;
  for (const Tensor& x : parts) {
    const DType part_dtype = activation_dtype("sum_of_squares", {&x});
    if (table.empty()) dtype = part_dtype;
    check(part_dtype == dtype, "sum_of_squares: parts of one call must share a dtype, got " +
                                   std::string(dtype_name(dtype)) + " and " + x.describe());
    if (x.numel() == 0) continue;
    table.push_back({x.raw_data(), x.numel()});
    largest = std::max(largest, x.numel());
  }
  if (table.empty()) return 0.0;
  check(table.size() <= 65535, "sum_of_squares: at most 65535 non-empty parts per call");
  // Enough blocks for the largest part to fill the GPU; smaller parts' extra blocks exit at once.
  const int blocks_per_part = static_cast<int>(std::clamp<int64_t>((largest + 2047) / 2048, 1, 512));
  const int64_t count = static_cast<int64_t>(table.size()) * blocks_per_part;
  const int64_t table_slots = (static_cast<int64_t>(table.size() * sizeof(SquaredPart)) + 7) / 8;
  // 8-byte slots: [part table | partials | the sum]
  Tensor scratch = Tensor::empty(Shape{table_slots + count + 1}, DType::I64, Device::CUDA);
  auto* device_table = reinterpret_cast<SquaredPart*>(scratch.data<int64_t>());
  double* partials = reinterpret_cast<double*>(scratch.data<int64_t>() + table_slots);
  MCPP_CUDA_CHECK(cudaMemcpyAsync(device_table, table.data(), table.size() * sizeof(SquaredPart),
                                  cudaMemcpyHostToDevice, current_stream()));
  const dim3 grid(blocks_per_part, static_cast<unsigned>(table.size()));
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    square_parts_kernel<T><<<grid, 256, 0, current_stream()>>>(device_table, partials);
  });
  MCPP_CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<1, 256, 0, current_stream()>>>(partials, count, partials + count);
  MCPP_CUDA_CHECK_LAUNCH();
  double total = 0.0;
  MCPP_CUDA_CHECK(cudaMemcpyAsync(&total, partials + count, sizeof total, cudaMemcpyDeviceToHost, current_stream()));
  MCPP_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  return total;
}

}  // namespace mcpp::core::gpu
