#include "core/model/vocab_parallel_loss.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/base/error.h"
#include "core/kernels/cross_entropy.h"

namespace mcpp::model {

namespace {

struct Slice {
  int64_t rows, width, start;
};

Slice check_slice(const ParallelContext& parallel, const Tensor& logits, const Tensor& labels) {
  check(logits.device() == Device::CPU, "vocab-parallel cross-entropy runs on the CPU backend only for now");
  const Slice slice{logits.dim(0), logits.dim(1), logits.dim(1) * parallel.tp_rank};
  const int64_t vocab = slice.width * parallel.tp_size;
  const int64_t* label = labels.data<int64_t>();
  for (int64_t n = 0; n < slice.rows; ++n)
    check(label[n] >= 0 && label[n] < vocab, "label " + std::to_string(label[n]) + " at row " + std::to_string(n) +
                                                 " is outside the padded vocabulary [0, " + std::to_string(vocab) + ")");
  return slice;
}

}  // namespace

void vocab_parallel_cross_entropy_forward(const ParallelContext& parallel, const Tensor& logits,
                                          const Tensor& labels, const Tensor& loss_mask, const Tensor& lse,
                                          const Tensor& totals) {
  if (parallel.tp_size == 1) {
    Tensor losses = Tensor::empty({logits.dim(0)}, DType::F32, logits.device());
    core::cross_entropy_forward(logits, labels, loss_mask, core::CrossEntropyOptions{}, losses, lse, totals);
    return;
  }
  const Slice slice = check_slice(parallel, logits, labels);
  const float* z = logits.data<float>();
  const int64_t* label = labels.data<int64_t>();
  Tensor max_logit = Tensor::empty({slice.rows}), target = Tensor::empty({slice.rows});
  Tensor sum_exp = Tensor::empty({slice.rows});
  float* row_max = max_logit.data<float>();
  float* row_target = target.data<float>();
  for (int64_t n = 0; n < slice.rows; ++n) {
    const float* row = z + n * slice.width;
    row_max[n] = *std::max_element(row, row + slice.width);
    const int64_t local = label[n] - slice.start;
    row_target[n] = (local >= 0 && local < slice.width) ? row[local] : 0.0f;
  }
  parallel.tp_comm->all_reduce(max_logit, comm::ReduceOp::max);
  parallel.tp_comm->all_reduce(target, comm::ReduceOp::sum);
  float* row_sum = sum_exp.data<float>();
  for (int64_t n = 0; n < slice.rows; ++n) {
    const float* row = z + n * slice.width;
    double sum = 0.0;
    for (int64_t c = 0; c < slice.width; ++c) sum += std::exp(double(row[c]) - row_max[n]);
    row_sum[n] = float(sum);
  }
  parallel.tp_comm->all_reduce(sum_exp, comm::ReduceOp::sum);

  const float* mask = loss_mask.defined() ? loss_mask.data<float>() : nullptr;
  float* lse_out = lse.data<float>();
  double loss_sum = 0.0, mask_sum = 0.0;
  for (int64_t n = 0; n < slice.rows; ++n) {
    const double row_lse = double(row_max[n]) + std::log(double(row_sum[n]));
    lse_out[n] = float(row_lse);
    const double weight = mask ? mask[n] : 1.0;
    loss_sum += weight * (row_lse - row_target[n]);
    mask_sum += weight;
  }
  float* total = totals.data<float>();
  total[0] = float(loss_sum);
  total[1] = float(mask_sum);
}

void vocab_parallel_cross_entropy_backward(const ParallelContext& parallel, const Tensor& logits,
                                           const Tensor& labels, const Tensor& loss_mask, const Tensor& lse,
                                           float grad_scale, const Tensor& dlogits) {
  if (parallel.tp_size == 1) {
    core::cross_entropy_backward(logits, labels, loss_mask, lse, grad_scale, core::CrossEntropyOptions{}, dlogits);
    return;
  }
  const Slice slice = check_slice(parallel, logits, labels);
  const float* z = logits.data<float>();
  const int64_t* label = labels.data<int64_t>();
  const float* mask = loss_mask.defined() ? loss_mask.data<float>() : nullptr;
  const float* row_lse = lse.data<float>();
  float* grad = dlogits.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < slice.rows; ++n) {
    const float scale = grad_scale * (mask ? mask[n] : 1.0f);
    const float* row = z + n * slice.width;
    float* out = grad + n * slice.width;  // may be `row`: each element is read before written
    const int64_t local = label[n] - slice.start;
    for (int64_t c = 0; c < slice.width; ++c)
      out[c] = (std::exp(row[c] - row_lse[n]) - (c == local ? 1.0f : 0.0f)) * scale;
  }
}

}  // namespace mcpp::model
