#include "core/model/vocab_parallel_cross_entropy.h"

#include <cmath>
#include <utility>
#include <vector>

#include "core/kernels/cross_entropy.h"
#ifdef MCPP_HAVE_CUDA
#include "core/model/cuda/vocab_parallel.h"
#endif

namespace mcpp::model {


VocabParallelLoss VocabParallelCrossEntropy::forward(const Tensor& logits, const Tensor& labels,
                                                     const Tensor& loss_mask) {
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  const int64_t vocab_start = vocab * parallel_.tp_rank;
  saved_.logits = logits;
  saved_.loss_mask = loss_mask;
  saved_.lse = Tensor::empty({rows}, DType::F32, logits.device());
  Tensor losses = Tensor::empty({rows}, DType::F32, logits.device());
  Tensor totals = Tensor::empty({2}, DType::F32, logits.device());
  if (parallel_.tp_size == 1) {
    saved_.local_labels = labels;
    core::cross_entropy_forward(logits, labels, loss_mask, core::CrossEntropyOptions{}, losses, saved_.lse, totals);
    // Sum the per-token losses in double (the kernel's totals are fp32), as the tp > 1 path does,
    // on the host: N floats per micro-batch.
    const Tensor host_losses = losses.to(Device::CPU);
    const Tensor host_mask = loss_mask.to(Device::CPU);
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

  if (logits.device() != Device::CPU) return forward_on_device(logits, labels, loss_mask);
  // Labels owned elsewhere point at local column 0; their target logit counts as 0 here.
  saved_.local_labels = Tensor::empty({rows}, DType::I64);
  saved_.owned.assign(rows, 0);
  const int64_t* label = labels.data<int64_t>();
  int64_t* local = saved_.local_labels.data<int64_t>();
  for (int64_t n = 0; n < rows; ++n) {
    saved_.owned[n] = label[n] >= vocab_start && label[n] < vocab_start + vocab;
    local[n] = saved_.owned[n] ? label[n] - vocab_start : 0;
  }
  core::cross_entropy_forward(logits, saved_.local_labels, loss_mask, core::CrossEntropyOptions{}, losses, saved_.lse,
                              totals);

  // Global lse = m + log Σ_r exp(lse_r − m) with m the max over ranks; target summed over ranks.
  Tensor shift = Tensor::empty({rows}, DType::F32);
  shift.copy_from(saved_.lse);
  parallel_.tp_comm->all_reduce(shift, comm::ReduceOp::max);
  Tensor partial = Tensor::empty({2, rows}, DType::F32);  // [Σ exp(lse_r − m) ; target logit]
  float* lse = saved_.lse.data<float>();
  const float* m = shift.data<float>();
  float* sum_exp = partial.data<float>();
  float* target = sum_exp + rows;
  const float* z = logits.data<float>();
  for (int64_t n = 0; n < rows; ++n) {
    sum_exp[n] = std::exp(lse[n] - m[n]);
    target[n] = saved_.owned[n] ? z[n * vocab + local[n]] : 0.0f;
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
  if (parallel_.tp_size > 1 && saved_.logits.device() != Device::CPU) {
#ifdef MCPP_HAVE_CUDA
    core::cross_entropy_backward(saved_.logits, saved_.local_labels, saved_.loss_mask, saved_.lse, grad_scale,
                                 core::CrossEntropyOptions{}, dlogits);
    cuda::fix_unowned_first_column(dlogits, saved_.first_column, saved_.owned_device, saved_.lse, saved_.loss_mask,
                                   grad_scale);
    return;
#endif
  }
  if (parallel_.tp_size == 1) {
    core::cross_entropy_backward(saved_.logits, saved_.local_labels, saved_.loss_mask, saved_.lse, grad_scale,
                                 core::CrossEntropyOptions{}, dlogits);
    return;
  }
  // The kernel treats local column 0 as the target of rows whose label lives on another rank;
  // keep those logits (dlogits may alias logits) and rewrite that column as plain softmax.
  const int64_t rows = saved_.logits.dim(0), vocab = saved_.logits.dim(1);
  std::vector<float> first_column(rows);
  const float* z = saved_.logits.data<float>();
  for (int64_t n = 0; n < rows; ++n) first_column[n] = z[n * vocab];
  core::cross_entropy_backward(saved_.logits, saved_.local_labels, saved_.loss_mask, saved_.lse, grad_scale,
                               core::CrossEntropyOptions{}, dlogits);
  const float* mask = saved_.loss_mask.defined() ? saved_.loss_mask.data<float>() : nullptr;
  const float* lse = saved_.lse.data<float>();
  float* grad = dlogits.data<float>();
  for (int64_t n = 0; n < rows; ++n)
    if (!saved_.owned[n]) grad[n * vocab] = std::exp(first_column[n] - lse[n]) * (grad_scale * (mask ? mask[n] : 1.0f));
}

// The same combination over TP on device tensors: labels localised and target logits gathered by
// small kernels, the per-row combination on the host (a few floats per token), all-reduces on the
// device tensors (the TP communicator may be NCCL).
VocabParallelLoss VocabParallelCrossEntropy::forward_on_device(const Tensor& logits, const Tensor& labels,
                                                               const Tensor& loss_mask) {
#ifdef MCPP_HAVE_CUDA
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  const Device device = logits.device();
  saved_.local_labels = Tensor::empty({rows}, DType::I64, device);
  saved_.owned_device = Tensor::empty({rows}, DType::U8, device);
  cuda::localize_labels(labels, vocab * parallel_.tp_rank, vocab, saved_.local_labels, saved_.owned_device);
  Tensor losses = Tensor::empty({rows}, DType::F32, device);
  Tensor totals = Tensor::empty({2}, DType::F32, device);
  core::cross_entropy_forward(logits, saved_.local_labels, loss_mask, core::CrossEntropyOptions{}, losses, saved_.lse,
                              totals);
  Tensor target = Tensor::empty({rows}, DType::F32, device);
  saved_.first_column = Tensor::empty({rows}, DType::F32, device);
  cuda::gather_logits(logits, saved_.local_labels, saved_.owned_device, target, saved_.first_column);

  Tensor shift = Tensor::empty({rows}, DType::F32, device);
  shift.copy_from(saved_.lse);  // a copy: the max-reduction must not overwrite this rank's lse
  parallel_.tp_comm->all_reduce(shift, comm::ReduceOp::max);
  const Tensor lse_host = saved_.lse.to(Device::CPU), m_host = shift.to(Device::CPU),
               target_host = target.to(Device::CPU);
  Tensor partial_host = Tensor::empty({2, rows}, DType::F32);  // [Σ exp(lse_r − m) ; target logit]
  float* sum_exp = partial_host.data<float>();
  for (int64_t n = 0; n < rows; ++n) {
    sum_exp[n] = std::exp(lse_host.data<float>()[n] - m_host.data<float>()[n]);
    sum_exp[rows + n] = target_host.data<float>()[n];
  }
  const Tensor partial = partial_host.to(device);
  parallel_.tp_comm->all_reduce(partial, comm::ReduceOp::sum);
  partial_host.copy_from(partial);
  const Tensor mask_host = loss_mask.to(Device::CPU);
  const float* mask = mask_host.defined() ? mask_host.data<float>() : nullptr;
  float* lse = lse_host.data<float>();
  VocabParallelLoss result;
  for (int64_t n = 0; n < rows; ++n) {
    lse[n] = m_host.data<float>()[n] + std::log(sum_exp[n]);
    const double weight = mask ? mask[n] : 1.0;
    result.loss_sum += weight * (double(lse[n]) - sum_exp[rows + n]);
    result.num_tokens += weight;
  }
  saved_.lse.copy_from(lse_host);
  return result;
#else
  (void)logits, (void)labels, (void)loss_mask;
  throw Error("internal: vocab-parallel cross-entropy on a device in a build without CUDA");
#endif
}

void VocabParallelCrossEntropy::swap_saved(Saved& other) { std::swap(saved_, other); }

void VocabParallelCrossEntropy::release() { saved_ = Saved{}; }

}  // namespace mcpp::model
