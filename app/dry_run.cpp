#include "app/dry_run.h"

#include <fmt/format.h>

#include <algorithm>

#include "app/pipeline_split.h"
#include "core/base/error.h"

namespace mcpp::app {

namespace {

struct Shapes {
  int64_t h, layers, heads, groups, kv, q, ffn, vocab, seq, max_pos;
  bool swiglu, bias, layernorm, learned_pos, tied;
};

Shapes shapes_of(const TrainArgs& a) {
  const DerivedArgs& d = a.derived;
  check(d.padded_vocab_size > 0,
        "the vocabulary size is unknown: pass --vocab-size (or a tokenizer) to size the model");
  check(d.kv_channels > 0, "internal: model sizes need validate_train_args first");
  Shapes s{};
  s.h = *a.model.hidden_size;
  s.layers = *a.model.num_layers;
  s.heads = *a.model.num_attention_heads;
  s.groups = d.num_query_groups;
  s.kv = d.kv_channels;
  s.q = s.heads * s.kv;
  s.ffn = d.ffn_hidden_size;
  s.vocab = d.padded_vocab_size;
  s.seq = *a.model.seq_length;
  s.max_pos = *a.model.max_position_embeddings;
  s.swiglu = a.model.swiglu;
  s.bias = a.model.add_bias_linear;
  s.layernorm = a.model.normalization == "LayerNorm";
  s.learned_pos = !d.use_rope;
  s.tied = !a.model.untie_embeddings_and_output_weights;
  return s;
}

int64_t norm_params(const Shapes& s) { return s.layernorm ? 2 * s.h : s.h; }

// Parameters of one transformer layer, and the part of them that tensor parallelism shards.
struct LayerParams {
  int64_t total = 0;
  int64_t sharded = 0;
};

LayerParams layer_params(const Shapes& s) {
  const int64_t qkv_out = s.q + 2 * s.groups * s.kv;
  const int64_t fc1_out = s.swiglu ? 2 * s.ffn : s.ffn;
  LayerParams p;
  p.sharded = s.h * qkv_out + s.q * s.h + s.h * fc1_out + s.ffn * s.h;
  if (s.bias) p.sharded += qkv_out + fc1_out;  // column-parallel biases are sharded
  p.total = p.sharded + 2 * norm_params(s) + (s.bias ? 2 * s.h : 0);  // row-parallel biases are not
  return p;
}

// Bytes of activations one micro-batch leaves in one layer until its backward (fused attention,
// so no s x s term): 2-byte tensors with bf16/fp16 on GPU, 4-byte on CPU or in fp32.
struct LayerActivations {
  double replicated = 0.0;  // residual stream, norms, dropout masks: split only by sequence parallelism
  double sharded = 0.0;     // QKV, attention output, MLP hidden: split by tensor parallelism
};

LayerActivations layer_activations(const Shapes& s, int64_t micro_batch, double element_bytes) {
  const double tokens = static_cast<double>(s.seq * micro_batch);
  const double qkv_out = static_cast<double>(s.q + 2 * s.groups * s.kv);
  const double fc1_out = static_cast<double>(s.swiglu ? 2 * s.ffn : s.ffn);
  LayerActivations a;
  // Inputs of the two norms and their outputs (dropout masks are regenerated from Philox in
  // backward, never stored).
  a.replicated = tokens * 4.0 * s.h * element_bytes;
  // QKV output, attention output (proj input), fc1 output, activation output (fc2 input).
  a.sharded = tokens * element_bytes * (qkv_out + s.q + fc1_out + s.ffn);
  return a;
}

double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

}  // namespace

double megatron_flops(const TrainArgs& args, int64_t batch_size) {
  const Shapes s = shapes_of(args);
  const double h = static_cast<double>(s.h);
  const double L = static_cast<double>(s.layers);
  const double seq = static_cast<double>(s.seq);
  const double attention = (1.0 + static_cast<double>(s.groups) / s.heads + seq / h / 2.0) * (s.q / h);
  const double mlp = (s.ffn / h) * (s.swiglu ? 1.5 : 1.0);
  const double logits = s.vocab / (2.0 * L * h);
  return 12.0 * batch_size * seq * L * h * h * (attention + mlp + logits);
}

ModelBudget estimate_model_budget(const TrainArgs& args, const std::string& device) {
  const Shapes s = shapes_of(args);
  const ParallelArgs& par = args.parallel;
  const int64_t tp = par.tensor_model_parallel_size;
  const int64_t pp = par.pipeline_model_parallel_size;
  const int64_t cp = par.context_parallel_size;
  const int64_t dp = args.derived.data_parallel_size;
  const int64_t mbs = *args.training.micro_batch_size;
  ModelBudget b;

  const LayerParams layer = layer_params(s);
  b.parameters_per_layer = layer.total;
  b.embedding_parameters = s.vocab * s.h + (s.learned_pos ? s.max_pos * s.h : 0);
  b.output_layer_parameters = s.tied ? 0 : s.vocab * s.h;
  b.parameters = b.embedding_parameters + s.layers * layer.total + norm_params(s) + b.output_layer_parameters;

  // Per GPU: the larger of the first stage (embedding) and the last stage (final norm + output
  // layer, or the tied copy of the embedding when pp > 1); word tables are vocab-sharded by tp.
  const parallel::PipelineSplit split = pipeline_split(args);
  auto rank_layers = [&](int pp_rank) {
    int64_t count = 0;
    for (int chunk = 0; chunk < split.virtual_size; ++chunk) count += stage_layer_range(split, pp_rank, chunk).count;
    return count;
  };
  const int64_t first_layers = rank_layers(0);
  const int64_t last_layers = rank_layers(static_cast<int>(pp) - 1);
  auto stage_layers = [&](int64_t layers) { return layers * (layer.total - layer.sharded + layer.sharded / tp); };
  const int64_t word = s.vocab * s.h / tp;
  const int64_t position = s.learned_pos ? s.max_pos * s.h : 0;
  const int64_t output = s.tied ? (pp > 1 ? word : 0) : word;
  const int64_t first_stage = stage_layers(first_layers) + word + position + (pp == 1 ? norm_params(s) + output : 0);
  const int64_t last_stage = pp == 1 ? first_stage : stage_layers(last_layers) + norm_params(s) + output;
  b.parameters_per_gpu = std::max(first_stage, last_stage);

  b.flops_per_iteration = megatron_flops(args, *args.training.global_batch_size);
  b.flops_per_token = megatron_flops(args, 1) / static_cast<double>(s.seq);

  // Weights + grads + optimizer state per parameter as this implementation keeps them: fp32
  // main parameters and fp32 gradients on every rank, the Adam moments sharded by the
  // distributed optimizer, plus the bf16 copy the layers read under mixed precision on the GPU
  // (Megatron's own layout, compat §6.2, shards the fp32 main parameters too).
  const bool half = device != "cpu" && (args.precision.bf16 || args.precision.fp16);
  const double shards = par.use_distributed_optimizer ? static_cast<double>(dp * cp) : 1.0;
  b.bytes_per_parameter = (half ? 10.0 : 8.0) + 8.0 / shards;
  b.state_bytes_per_gpu = b.bytes_per_parameter * static_cast<double>(b.parameters_per_gpu);

  // Activations: layers of the first stage (it holds the most micro-batches under 1F1B).
  const double element_bytes = half ? 2.0 : 4.0;
  const LayerActivations act = layer_activations(s, mbs, element_bytes);
  const double sp_divisor = par.sequence_parallel ? static_cast<double>(tp) : 1.0;
  const double per_layer = (act.replicated / sp_divisor + act.sharded / tp) / cp;
  const double layer_input = static_cast<double>(s.seq * mbs * s.h) * element_bytes / sp_divisor / cp;
  double stage = 0.0;
  if (args.derived.recompute_granularity == "full") {
    // Only the inputs of recomputed layers stay; one layer is rebuilt at a time in backward.
    const int64_t recomputed = std::min(args.training.recompute_num_layers.value_or(first_layers), first_layers);
    stage = recomputed * layer_input + (first_layers - recomputed) * per_layer + per_layer;
  } else {
    // Selective recompute drops the s x s attention scores, which fused attention never stores.
    stage = first_layers * per_layer;
  }
  // Logits for the loss (vocab-sharded, in the compute dtype) on the last stage.
  const double logits = static_cast<double>(s.seq * mbs) * (s.vocab / tp) * element_bytes / cp;
  b.activation_bytes_per_microbatch = stage + (pp == 1 ? logits : 0.0);
  b.microbatches_in_flight = pp == 1 ? 1 : std::min(pp, args.derived.num_microbatches);
  b.activation_bytes_per_gpu = b.activation_bytes_per_microbatch * static_cast<double>(b.microbatches_in_flight);
  b.total_bytes_per_gpu = b.state_bytes_per_gpu + b.activation_bytes_per_gpu;
  return b;
}

std::string format_model_budget(const TrainArgs& args, const ModelBudget& b) {
  const auto& p = args.parallel;
  std::string out;
  out += fmt::format("parameters: {} ({:.3f} B); embedding {}, output layer {}, per layer {}\n", b.parameters,
                     b.parameters / 1e9, b.embedding_parameters,
                     b.output_layer_parameters == 0 ? std::string("tied") : std::to_string(b.output_layer_parameters),
                     b.parameters_per_layer);
  out += fmt::format("padded vocabulary: {}\n", args.derived.padded_vocab_size);
  out += fmt::format("training FLOPs per token: {:.4e}; per iteration (global batch {}): {:.4e}\n",
                     b.flops_per_token, *args.training.global_batch_size, b.flops_per_iteration);
  out += fmt::format("layout: tp {} pp {} cp {} dp {}, {} micro-batches of {} per iteration{}\n",
                     p.tensor_model_parallel_size, p.pipeline_model_parallel_size, p.context_parallel_size,
                     args.derived.data_parallel_size, args.derived.num_microbatches,
                     *args.training.micro_batch_size, p.use_distributed_optimizer ? ", distributed optimizer" : "");
  out += fmt::format("memory per GPU (estimate): {:.2f} GiB = weights+grads+optimizer {:.2f} GiB "
                     "({} params x {:.2f} B) + activations {:.2f} GiB ({} micro-batch(es) in flight x {:.2f} GiB{})\n",
                     gib(b.total_bytes_per_gpu), gib(b.state_bytes_per_gpu), b.parameters_per_gpu,
                     b.bytes_per_parameter, gib(b.activation_bytes_per_gpu), b.microbatches_in_flight,
                     gib(b.activation_bytes_per_microbatch),
                     args.derived.recompute_granularity.empty() ? "" : ", recompute " + args.derived.recompute_granularity);
  return out;
}

}  // namespace mcpp::app
