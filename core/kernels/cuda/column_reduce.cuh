#pragma once
// Deterministic column sums acc[c] += Σ_r term(r, c) without float atomics: blocks of rows write
// per-block partial sums, then one pass adds each column's partials in block order. The number
// of row blocks depends only on the shape, so results are identical run to run.
#include "core/base/tensor.h"
#include "core/kernels/cuda/cuda_util.cuh"

namespace mcpp::core::gpu {

template <typename Term>
__global__ void column_partials_kernel(int64_t rows, int64_t cols, int64_t rows_per_block,
                                       Term term, float* partials) {
  __shared__ float sums[8][33];
  int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  int64_t begin = int64_t(blockIdx.y) * rows_per_block;
  int64_t end = min(rows, begin + rows_per_block);
  float sum = 0.0f;
  if (c < cols) {
    for (int64_t r = begin + threadIdx.y; r < end; r += 8) sum += term(r, c);
  }
  sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float total = 0.0f;
    for (int y = 0; y < 8; ++y) total += sums[y][threadIdx.x];
    partials[int64_t(blockIdx.y) * cols + c] = total;
  }
}

__global__ inline void column_finish_kernel(int64_t blocks, int64_t cols, const float* partials,
                                            float* acc) {
  int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float total = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) total += partials[b * cols + c];
  acc[c] += total;
}

template <typename Term>
void accumulate_columns(int64_t rows, int64_t cols, Term term, float* acc) {
  if (rows == 0 || cols == 0) return;
  int64_t row_blocks = std::min<int64_t>((rows + 63) / 64, 256);
  int64_t rows_per_block = (rows + row_blocks - 1) / row_blocks;
  Tensor partials = Tensor::empty(Shape{row_blocks, cols}, DType::F32, Device::CUDA);
  dim3 grid(unsigned((cols + 31) / 32), unsigned(row_blocks));
  column_partials_kernel<<<grid, dim3(32, 8), 0, current_stream()>>>(
      rows, cols, rows_per_block, term, partials.data<float>());
  MCPP_CUDA_CHECK_LAUNCH();
  column_finish_kernel<<<unsigned((cols + 255) / 256), 256, 0, current_stream()>>>(
      row_blocks, cols, partials.data<float>(), acc);
  MCPP_CUDA_CHECK_LAUNCH();
}

// term(r, c) = m[r·cols + c]
template <typename T>
struct MatrixTerm {
  const T* m;
  int64_t cols;
  __device__ float operator()(int64_t r, int64_t c) const { return to_float(m[r * cols + c]); }
};

}  // namespace mcpp::core::gpu
