#include "core/model/cuda/vocab_parallel.h"

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"
#include "core/base/dtype.h"
#include "core/kernels/cuda/cuda_util.cuh"

namespace mcpp::model::cuda {

namespace {

using core::gpu::activation_dtype;
using core::gpu::dispatch_float;
using core::gpu::elementwise_blocks;
using core::gpu::from_float;
using core::gpu::to_float;

__global__ void localize_kernel(const int64_t* labels, int64_t start, int64_t vocab, int64_t rows, int64_t* local,
                                uint8_t* owned) {
  MCPP_GRID_STRIDE(n, rows) {
    const int64_t id = labels[n] - start;
    const bool mine = id >= 0 && id < vocab;
    owned[n] = mine ? 1 : 0;
    local[n] = mine ? id : 0;
  }
}

template <typename T>
__global__ void gather_kernel(const T* logits, int64_t vocab, const int64_t* local, const uint8_t* owned,
                              int64_t rows, float* target, float* first_column) {
  MCPP_GRID_STRIDE(n, rows) {
    const T* row = logits + n * vocab;
    target[n] = owned[n] ? to_float(row[local[n]]) : 0.0f;
    first_column[n] = to_float(row[0]);
  }
}

template <typename T>
__global__ void fix_kernel(T* dlogits, int64_t vocab, const float* first_column, const uint8_t* owned,
                           const float* lse, const float* mask, float scale, int64_t rows) {
  MCPP_GRID_STRIDE(n, rows) {
    if (owned[n]) continue;
    const float g = expf(first_column[n] - lse[n]) * (scale * (mask ? mask[n] : 1.0f));
    dlogits[n * vocab] = from_float<T>(g);
  }
}

void require(bool ok, const char* what) { check(ok, std::string("vocab-parallel cross-entropy: ") + what); }

}  // namespace

void localize_labels(const Tensor& labels, int64_t vocab_start, int64_t vocab, const Tensor& local,
                     const Tensor& owned) {
  const int64_t rows = labels.numel();
  require(labels.dtype() == DType::I64 && local.dtype() == DType::I64 && owned.dtype() == DType::U8 &&
              local.numel() == rows && owned.numel() == rows,
          "labels/local must be I64 and owned U8, all [N]");
  if (rows == 0) return;
  localize_kernel<<<elementwise_blocks(rows), 256, 0, current_stream()>>>(labels.data<int64_t>(), vocab_start, vocab, rows,
                                                                   local.data<int64_t>(), owned.data<uint8_t>());
  MCPP_CUDA_CHECK_LAUNCH();
}

void gather_logits(const Tensor& logits, const Tensor& local, const Tensor& owned, const Tensor& target,
                   const Tensor& first_column) {
  const int64_t vocab = logits.dim(-1), rows = logits.numel() / vocab;
  require(target.numel() == rows && first_column.numel() == rows && target.dtype() == DType::F32 &&
              first_column.dtype() == DType::F32,
          "target and first_column must be F32 [N]");
  if (rows == 0) return;
  dispatch_float(activation_dtype("vocab-parallel cross-entropy", {&logits}), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<<<elementwise_blocks(rows), 256, 0, current_stream()>>>(
        logits.data<T>(), vocab, local.data<int64_t>(), owned.data<uint8_t>(), rows, target.data<float>(),
        first_column.data<float>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void fix_unowned_first_column(const Tensor& dlogits, const Tensor& first_column, const Tensor& owned,
                              const Tensor& lse, const Tensor& loss_mask, float grad_scale) {
  const int64_t vocab = dlogits.dim(-1), rows = dlogits.numel() / vocab;
  if (rows == 0) return;
  const float* mask = loss_mask.defined() ? loss_mask.data<float>() : nullptr;
  dispatch_float(activation_dtype("vocab-parallel cross-entropy", {&dlogits}), [&](auto tag) {
    using T = decltype(tag);
    fix_kernel<<<elementwise_blocks(rows), 256, 0, current_stream()>>>(
        dlogits.data<T>(), vocab, first_column.data<float>(), owned.data<uint8_t>(), lse.data<float>(), mask,
        grad_scale, rows);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace mcpp::model::cuda
