// fp32 reference fused vocab softmax + cross-entropy; row reductions in fp64.
#include <algorithm>
#include <cmath>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {

struct Rows {
  int64_t count, vocab;
};

Rows check_inputs(const char* op, const Tensor& logits, const Tensor& labels,
                  const Tensor& loss_mask, const CrossEntropyOptions& options) {
  require(op, "logits", logits, DType::F32);
  require(op, "labels", labels, DType::I64);
  require_optional(op, "loss_mask", loss_mask, DType::F32);
  check(logits.rank() >= 1 && logits.dim(-1) > 1,
        std::string(op) + ": logits must be [..., V] with V > 1, got " + logits.describe());
  Rows rows{logits.numel() / logits.dim(-1), logits.dim(-1)};
  require_numel(op, "labels", labels, rows.count);
  if (loss_mask.defined()) require_numel(op, "loss_mask", loss_mask, rows.count);
  check(options.label_smoothing >= 0.0f && options.label_smoothing < 1.0f,
        std::string(op) + ": label smoothing must be in [0, 1)");
  const int64_t* label = labels.data<int64_t>();
  check_labels_in_vocab(op, label, rows.count, rows.vocab);
  return rows;
}

// Megatron's smoothing weight: α·V/(V−1).
double smoothing_weight(const CrossEntropyOptions& options, int64_t vocab) {
  return double(options.label_smoothing) * double(vocab) / double(vocab - 1);
}

}  // namespace

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                           const CrossEntropyOptions& options, const Tensor& losses,
                           const Tensor& lse, const Tensor& totals) {
  const char* op = "cross_entropy_forward";
  Rows rows = check_inputs(op, logits, labels, loss_mask, options);
  require(op, "losses", losses, DType::F32);
  require(op, "lse", lse, DType::F32);
  require(op, "totals", totals, DType::F32);
  require_numel(op, "losses", losses, rows.count);
  require_numel(op, "lse", lse, rows.count);
  require_numel(op, "totals", totals, 2);

  const float* z = logits.data<float>();
  const int64_t* label = labels.data<int64_t>();
  const float* mask = loss_mask.defined() ? loss_mask.data<float>() : nullptr;
  float* loss_out = losses.data<float>();
  float* lse_out = lse.data<float>();
  const int64_t vocab = rows.vocab;
  const double smoothing = smoothing_weight(options, vocab);
  double loss_sum = 0.0, mask_sum = 0.0;
#pragma omp parallel for if (worth_parallel(rows.count * vocab)) schedule(static) \
    reduction(+ : loss_sum, mask_sum)
  for (int64_t n = 0; n < rows.count; ++n) {
    const float* row = z + n * vocab;
    float max_logit = *std::max_element(row, row + vocab);
    // fp32 exponentials (as Megatron's fp32 logits), fp64 sums.
    double sum_exp = 0.0, sum_logits = 0.0;
#pragma omp simd reduction(+ : sum_exp, sum_logits)
    for (int64_t c = 0; c < vocab; ++c) {
      sum_exp += double(std::exp(row[c] - max_logit));
      sum_logits += double(row[c]);
    }
    double row_lse = max_logit + std::log(sum_exp);
    double loss = row_lse - row[label[n]];
    if (smoothing > 0.0) {
      double mean_log_prob = sum_logits / double(vocab) - row_lse;
      loss = (1.0 - smoothing) * loss - smoothing * mean_log_prob;
    }
    lse_out[n] = float(row_lse);
    loss_out[n] = float(loss);
    double weight = mask ? mask[n] : 1.0;
    loss_sum += weight * loss;
    mask_sum += weight;
  }
  float* total = totals.data<float>();
  total[0] = float(loss_sum);
  total[1] = float(mask_sum);
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                            const Tensor& lse, float grad_scale,
                            const CrossEntropyOptions& options, const Tensor& dlogits) {
  const char* op = "cross_entropy_backward";
  Rows rows = check_inputs(op, logits, labels, loss_mask, options);
  require(op, "lse", lse, DType::F32);
  require(op, "dlogits", dlogits, DType::F32);
  require_numel(op, "lse", lse, rows.count);
  require_numel(op, "dlogits", dlogits, logits.numel());

  const float* z = logits.data<float>();
  const int64_t* label = labels.data<int64_t>();
  const float* mask = loss_mask.defined() ? loss_mask.data<float>() : nullptr;
  const float* row_lse = lse.data<float>();
  float* grad = dlogits.data<float>();
  const int64_t vocab = rows.vocab;
  const float smoothing = float(smoothing_weight(options, vocab));
  const float uniform_target = smoothing / float(vocab);
#pragma omp parallel for if (worth_parallel(rows.count * vocab)) schedule(static)
  for (int64_t n = 0; n < rows.count; ++n) {
    float row_scale = grad_scale * (mask ? mask[n] : 1.0f);
    const float* row = z + n * vocab;
    float* out = grad + n * vocab;  // may be `row` itself: each element is read before written
    for (int64_t c = 0; c < vocab; ++c) {
      float target = (c == label[n] ? 1.0f - smoothing : 0.0f) + uniform_target;
      out[c] = (std::exp(row[c] - row_lse[n]) - target) * row_scale;
    }
  }
}

}  // namespace mcpp::core::cpu
