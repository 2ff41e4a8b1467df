#pragma once
// What a configuration costs, computed from the flags alone (--dry-run prints it and exits; the
// training loop uses the FLOP count for TFLOP/s and MFU): exact parameter count, Megatron's
// FLOPs formula, and an estimate of per-GPU memory for the given parallel layout.
#include <cstdint>
#include <string>

#include "app/train_args.h"

namespace mcpp::app {

struct ModelBudget {
  int64_t parameters = 0;            // the whole model (padded vocab, tied counted once)
  int64_t embedding_parameters = 0;  // word (+ learned position) embedding
  int64_t output_layer_parameters = 0;  // 0 when tied
  int64_t parameters_per_layer = 0;
  int64_t parameters_per_gpu = 0;    // the largest pipeline stage, one tensor-parallel shard
  double flops_per_token = 0.0;      // training (forward + backward), Megatron's formula
  double flops_per_iteration = 0.0;  // for one global batch
  double bytes_per_parameter = 0.0;  // weights + grads + optimizer state (compat §6.2)
  double state_bytes_per_gpu = 0.0;  // bytes_per_parameter * parameters_per_gpu
  double activation_bytes_per_microbatch = 0.0;  // one micro-batch through one stage
  int64_t microbatches_in_flight = 1;            // 1F1B keeps up to pp micro-batches on stage 0
  double activation_bytes_per_gpu = 0.0;
  double total_bytes_per_gpu = 0.0;
};

// Megatron's num_floating_point_operations(args, batch_size) (megatron/training/training.py):
// 12 * B * s * L * h^2 * ( (1 + g/a + s/(2h)) * (a*d/h) + (ffn/h) * (swiglu ? 3/2 : 1) + V_pad/(2*L*h) )
// with a heads, g query groups (= a without GQA), d kv-channels. Needs validated args with a known
// padded vocabulary.
double megatron_flops(const TrainArgs& args, int64_t batch_size);

// Needs validate_train_args() first and a known vocabulary (tokenizer or --vocab-size).
// `device` is "cpu" or "cuda": on CPU everything is fp32.
ModelBudget estimate_model_budget(const TrainArgs& args, const std::string& device);

// A few human-readable lines for --dry-run.
std::string format_model_budget(const TrainArgs& args, const ModelBudget& budget);

}  // namespace mcpp::app
