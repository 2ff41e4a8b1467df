#include "core/model/vocab_parallel_cross_entropy.h"

#include <cmath>
#include <vector>

#include "core/kernels/cross_entropy.h"

namespace mcpp::model {

namespace {
// `t` itself when it is undefined or on the host, else a host copy.
Tensor on_host(const Tensor& t) {
  if (!t.defined() || t.device() == Device::CPU) return t;
  Tensor host = Tensor::empty(t.shape(), t.dtype());
  host.copy_from(t);
  return host;
}
}  // namespace

VocabParallelLoss VocabParallelCrossEntropy::forward(const Tensor& logits, const Tensor& labels,
                                                     const Tensor& loss_mask) {
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  const int64_t vocab_start = vocab * parallel_.tp_rank;
  logits_ = logits;
  loss_mask_ = loss_mask;
  lse_ = Tensor::empty({rows}, DType::F32, logits.device());
  Tensor losses = Tensor::empty({rows}, DType::F32, logits.device());
  Tensor totals = Tensor::empty({2}, DType::F32, logits.device());
  if (parallel_.tp_size == 1) {
    local_labels_ = labels;
    core::cross_entropy_forward(logits, labels, loss_mask, core::CrossEntropyOptions{}, losses, lse_, totals);
    // Sum the per-token losses in double (the kernel's totals are fp32), as the tp > 1 path does,
    // on the host: N floats per micro-batch.
    const Tensor host_losses = on_host(losses);
    const Tensor host_mask = on_host(loss_mask);
    const float* loss = host_losses.data<float>();
    const float* mask = host_mask.defined() ? host_mask.data<float>() : nullptr;
    VocabParallelLoss result;
    for (int64_t n = 0; n < rows; ++n) {
      const double weight = mask ? mask[n] : 1.0;
      result.loss_sum += weight * loss[n];
      result.num_tokens += weight;
    }
    return result;
  }

  check(logits.device() == Device::CPU,
        "vocab-parallel cross-entropy (--tensor-model-parallel-size > 1) runs on CPU tensors only for now");
  // Labels owned elsewhere point at local column 0; their target logit counts as 0 here.
  local_labels_ = Tensor::empty({rows}, DType::I64);
  owned_.assign(rows, 0);
  const int64_t* label = labels.data<int64_t>();
  int64_t* local = local_labels_.data<int64_t>();
  for (int64_t n = 0; n < rows; ++n) {
    owned_[n] = label[n] >= vocab_start && label[n] < vocab_start + vocab;
    local[n] = owned_[n] ? label[n] - vocab_start : 0;
  }
  core::cross_entropy_forward(logits, local_labels_, loss_mask, core::CrossEntropyOptions{}, losses, lse_, totals);

  // Global lse = m + log Σ_r exp(lse_r − m) with m the max over ranks; target summed over ranks.
  Tensor shift = Tensor::empty({rows}, DType::F32);
  shift.copy_from(lse_);
  parallel_.tp_comm->all_reduce(shift, comm::ReduceOp::max);
  Tensor partial = Tensor::empty({2, rows}, DType::F32);  // [Σ exp(lse_r − m) ; target logit]
  float* lse = lse_.data<float>();
  const float* m = shift.data<float>();
  float* sum_exp = partial.data<float>();
  float* target = sum_exp + rows;
  const float* z = logits.data<float>();
  for (int64_t n = 0; n < rows; ++n) {
    sum_exp[n] = std::exp(lse[n] - m[n]);
    target[n] = owned_[n] ? z[n * vocab + local[n]] : 0.0f;
  }
  parallel_.tp_comm->all_reduce(partial, comm::ReduceOp::sum);
  const float* mask = loss_mask.defined() ? loss_mask.data<float>() : nullptr;
  VocabParallelLoss result;
  for (int64_t n = 0; n < rows; ++n) {
    lse[n] = m[n] + std::log(sum_exp[n]);
    const double weight = mask ? mask[n] : 1.0;
    result.loss_sum += weight * (double(lse[n]) - target[n]);
    result.num_tokens += weight;
  }
  return result;
}

void VocabParallelCrossEntropy::backward(float grad_scale, const Tensor& dlogits) {
  if (parallel_.tp_size == 1) {
    core::cross_entropy_backward(logits_, local_labels_, loss_mask_, lse_, grad_scale,
                                 core::CrossEntropyOptions{}, dlogits);
    return;
  }
  // The kernel treats local column 0 as the target of rows whose label lives on another rank;
  // keep those logits (dlogits may alias logits) and rewrite that column as plain softmax.
  const int64_t rows = logits_.dim(0), vocab = logits_.dim(1);
  std::vector<float> first_column(rows);
  const float* z = logits_.data<float>();
  for (int64_t n = 0; n < rows; ++n) first_column[n] = z[n * vocab];
  core::cross_entropy_backward(logits_, local_labels_, loss_mask_, lse_, grad_scale, core::CrossEntropyOptions{},
                               dlogits);
  const float* mask = loss_mask_.defined() ? loss_mask_.data<float>() : nullptr;
  const float* lse = lse_.data<float>();
  float* grad = dlogits.data<float>();
  for (int64_t n = 0; n < rows; ++n)
    if (!owned_[n]) grad[n * vocab] = std::exp(first_column[n] - lse[n]) * (grad_scale * (mask ? mask[n] : 1.0f));
}

void VocabParallelCrossEntropy::release() {
  logits_ = local_labels_ = loss_mask_ = lse_ = Tensor();
  owned_.clear();
}

}  // namespace mcpp::model
