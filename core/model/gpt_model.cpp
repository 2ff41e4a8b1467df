#include "core/model/gpt_model.h"

#include <algorithm>
#include <utility>

#include "core/base/error.h"
#include "core/kernels/linear.h"
#include "core/model/tensor_layout.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

namespace {

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// The parameters of one pipeline stage, in registration order. A last stage without the
// embedding but with tied embeddings gets the output layer as a `shared` copy of the word
// embedding, initialised from the same Philox stream (compat §4.4).
std::vector<ParamInfo> stage_param_infos(const ModelConfig& config, const ParallelContext& parallel,
                                         const PipelineStage& stage) {
  std::vector<ParamInfo> kept;
  const int end_layer = stage.num_layers < 0 ? config.num_layers : stage.first_layer + stage.num_layers;
  for (ParamInfo& info : gpt_param_infos(config, parallel)) {
    bool keep = false;
    if (starts_with(info.key, "embedding.")) {
      keep = stage.pre_process;
    } else if (starts_with(info.key, "decoder.layers.")) {
      const int layer = std::stoi(info.key.substr(std::string("decoder.layers.").size()));
      keep = layer >= stage.first_layer && layer < end_layer;
    } else {  // final norm, output layer
      keep = stage.post_process;
    }
    if (keep) {
      kept.push_back(std::move(info));
    } else if (info.key == "embedding.word_embeddings.weight" && stage.post_process && !config.untie_embeddings) {
      ParamInfo copy = std::move(info);
      copy.init_key = copy.key;
      copy.key = "output_layer.weight";
      copy.shared = true;
      kept.push_back(std::move(copy));  // moved last below: Megatron registers it after the final norm
    }
  }
  // The shared copy (if any) belongs at the end, where the output layer registers.
  std::stable_partition(kept.begin(), kept.end(), [](const ParamInfo& info) { return !info.shared; });
  return kept;
}

}  // namespace

int64_t stage_parameter_count(const ModelConfig& config, const ParallelContext& parallel, const PipelineStage& stage) {
  int64_t count = 0;
  for (const ParamInfo& info : stage_param_infos(config, parallel, stage)) count += info.local_numel();
  return count;
}

GPTModel::GPTModel(ModelConfig config, const ParallelContext& parallel, Device device, const BufferLayout& layout,
                   const PipelineStage& stage)
    : config_(std::move(config)), parallel_(parallel), stage_(stage) {
  check(parallel.tp_comm != nullptr, "the model needs a tensor-parallel communicator");
  check(!sequence_parallel(parallel) || config_.seq_length % parallel.tp_size == 0,
        "--seq-length " + std::to_string(config_.seq_length) + " must be divisible by --tensor-model-parallel-size " +
            std::to_string(parallel.tp_size) + " with --sequence-parallel");
  check(parallel.cp_size == 1 && parallel.ep_size == 1,
        "context and expert parallelism are not supported by the model yet");
  check(device == Device::CUDA || config_.compute_dtype == DType::F32,
        "internal: the CPU model computes in fp32");
  if (stage_.num_layers < 0) stage_.num_layers = config_.num_layers - stage_.first_layer;
  check(stage_.first_layer >= 0 && stage_.num_layers >= 0 &&
            stage_.first_layer + stage_.num_layers <= config_.num_layers,
        "internal: pipeline stage layers outside the model");
  check(parallel.pp_size > 1 || (stage_.pre_process && stage_.post_process && stage_.num_layers == config_.num_layers),
        "internal: a partial model needs a pipeline-parallel context");
  params_ = std::make_unique<ParamBuffer>(stage_param_infos(config_, parallel, stage_), DType::F32, device, layout,
                                          config_.compute_dtype);
  initialize_parameters(*params_, config_.seed);
  params_->sync_compute_params();
  dropout_.seed = config_.seed;

  const ParamBuffer& p = *params_;
  if (stage_.pre_process)
    embedding_ = std::make_unique<EmbeddingLayer>(config_, parallel_, p.ref("embedding.word_embeddings.weight"),
                                                  p.ref("embedding.position_embeddings.weight"));
  for (int layer = stage_.first_layer; layer < stage_.first_layer + stage_.num_layers; ++layer) {
    layers_.push_back(std::make_unique<TransformerLayer>(config_, parallel_, p, layer));
    layers_.back()->set_selective_recompute(config_.recompute == RecomputeGranularity::selective);
  }
  if (stage_.post_process) {
    loss_ = std::make_unique<VocabParallelCrossEntropy>(parallel_);
    final_norm_ = std::make_unique<NormLayer>(config_, p.ref("decoder.final_layernorm.weight"),
                                              p.ref("decoder.final_layernorm.bias"));
    // Tied: the output layer multiplies by the word embedding and its gradient accumulates there
    // (on a last stage without the embedding: in its shared copy).
    output_weight_ = p.contains("output_layer.weight") ? p.ref("output_layer.weight")
                                                       : p.ref("embedding.word_embeddings.weight");
  }
  segments_ = recompute_segments(config_, stage_.num_layers);
}

LossPair GPTModel::forward(const MicroBatch& batch, const Tensor& input) {
  // A middle pipeline stage reads no data (Megatron's get_batch): it may get an empty micro-batch.
  const bool middle_stage = !stage_.pre_process && !stage_.post_process;
  check(middle_stage || (batch.tokens.defined() && (batch.labels.defined() || !stage_.post_process)),
        "a micro-batch needs tokens and labels");
  check(!batch.labels.defined() || batch.tokens.shape() == batch.labels.shape(),
        "micro-batch tokens and labels differ in shape");
  const int64_t b = batch.tokens.defined() ? batch.tokens.dim(0) : 0;
  const int64_t s = batch.tokens.defined() ? batch.tokens.dim(1) : 0;
  check(s <= config_.max_position_embeddings || config_.position_embedding != PositionEmbedding::learned_absolute,
        "micro-batch sequence length " + std::to_string(s) + " exceeds --max-position-embeddings " +
            std::to_string(config_.max_position_embeddings));
  forward_dropout_ = dropout_;
  doc_offsets_ = batch.doc_offsets.to(params_->device());
  forward_done_ = true;

  Tensor hidden;
  if (stage_.pre_process) {
    const Tensor tokens = to_sequence_first(batch.tokens).to(params_->device());
    const Tensor positions =
        batch.position_ids.defined() ? to_sequence_first(batch.position_ids).to(params_->device()) : Tensor();
    if (forward_hook_) forward_hook_(-1);
    hidden = embedding_->forward(tokens, positions, forward_dropout_);
  } else {
    check(input.defined(), "internal: a pipeline stage after the first needs its input activation");
    hidden = input;
  }
  segment_inputs_.assign(segments_.size(), Tensor());
  for (size_t g = 0; g < segments_.size(); ++g) {
    const RecomputeSegment& segment = segments_[g];
    segment_inputs_[g] = hidden;
    for (int layer = segment.begin; layer < segment.end; ++layer) {
      if (forward_hook_) forward_hook_(stage_.first_layer + layer);
      hidden = layers_[layer]->forward(hidden, doc_offsets_, forward_dropout_);
    }
    if (segment.recompute)
      for (int layer = segment.begin; layer < segment.end; ++layer) layers_[layer]->release();
  }
  if (!stage_.post_process) {
    stage_output_ = hidden;
    return LossPair{};
  }

  const Tensor labels = to_sequence_first(batch.labels).view({s * b}).to(params_->device());
  const Tensor loss_mask =
      batch.loss_mask.defined() ? to_sequence_first(batch.loss_mask).view({s * b}).to(params_->device()) : Tensor();
  if (forward_hook_) forward_hook_(config_.num_layers);
  // Column-parallel output layer on the full sequence: logits of this rank's vocabulary range.
  final_out_ = enter_column_parallel(parallel_, final_norm_->forward(hidden));
  const int64_t h = config_.hidden;
  logits_ = Tensor::empty({s * b, output_weight_.value.dim(0)}, final_out_.dtype(), final_out_.device());
  core::linear_forward(final_out_.view({s * b, h}), output_weight_.value, Tensor(), logits_);
  const VocabParallelLoss loss = loss_->forward(logits_, labels, loss_mask);
  return LossPair{loss.loss_sum, loss.num_tokens};
}

Tensor GPTModel::logits(const Tensor& tokens_batch_first) {
  const int64_t b = tokens_batch_first.dim(0), s = tokens_batch_first.dim(1);
  check(s <= config_.max_position_embeddings || config_.position_embedding != PositionEmbedding::learned_absolute,
        "sequence length " + std::to_string(s) + " exceeds --max-position-embeddings");
  check(stage_.pre_process && stage_.post_process,
        "GPTModel::logits needs the whole model on one rank (no pipeline stages)");
  DropoutState no_dropout = dropout_;
  no_dropout.training = false;
  Tensor hidden = embedding_->forward(to_sequence_first(tokens_batch_first).to(params_->device()), Tensor(), no_dropout);
  embedding_->release();
  for (auto& layer : layers_) {
    hidden = layer->forward(hidden, Tensor(), no_dropout);
    layer->release();
  }
  const Tensor normed = enter_column_parallel(parallel_, final_norm_->forward(hidden));
  final_norm_->release();
  const int64_t h = config_.hidden, vocab = output_weight_.value.dim(0);
  Tensor out = Tensor::empty({s, b, vocab}, normed.dtype(), normed.device());
  core::linear_forward(normed.view({s * b, h}), output_weight_.value, Tensor(), out.view({s * b, vocab}));
  if (out.dtype() == DType::F32) return out.to(Device::CPU);
  Tensor host = Tensor::empty(out.shape(), DType::F32);
  host.copy_from(out);
  return host;
}

void GPTModel::backward(float loss_grad_scale, const Tensor& output_grad) {
  check(forward_done_, "GPTModel::backward called without a preceding forward");
  forward_done_ = false;
  Tensor grad;
  if (stage_.post_process) {
    const int64_t h = config_.hidden;
    const int64_t rows = logits_.dim(0);
    // The logits buffer becomes its own gradient.
    loss_->backward(loss_grad_scale, logits_);
    Tensor dfinal = Tensor::empty(final_out_.shape(), final_out_.dtype(), final_out_.device());
    core::linear_backward(final_out_.view({rows, h}), output_weight_.value, logits_, dfinal.view({rows, h}),
                          output_weight_.grad, Tensor());
    loss_->release();
    logits_ = final_out_ = Tensor();
    grad = final_norm_->backward(enter_column_parallel_backward(parallel_, dfinal));
    final_norm_->release();
    if (backward_hook_) backward_hook_(config_.num_layers);
  } else {
    check(output_grad.defined(), "internal: a pipeline stage before the last needs its output gradient");
    grad = output_grad;
    stage_output_ = Tensor();
  }
  const bool defer_first_layer = stage_.pre_process && defer_first_layer_weight_grads_;
  for (size_t g = segments_.size(); g-- > 0;) {
    const RecomputeSegment& segment = segments_[g];
    if (segment.recompute) {
      Tensor hidden = segment_inputs_[g];
      for (int layer = segment.begin; layer < segment.end; ++layer)
        hidden = layers_[layer]->forward(hidden, doc_offsets_, forward_dropout_);
    }
    for (int layer = segment.end - 1; layer >= segment.begin; --layer) {
      const bool defer = layer == 0 && defer_first_layer;
      grad = layers_[layer]->backward(grad, defer ? &deferred_weight_grads_ : nullptr);
      layers_[layer]->release();
      if (backward_hook_ && !defer) backward_hook_(stage_.first_layer + layer);
    }
    segment_inputs_[g] = Tensor();
  }
  if (stage_.pre_process) {
    embedding_->backward(grad);
    embedding_->release();
    if (backward_hook_) backward_hook_(-1);
    if (defer_first_layer && !layers_.empty()) {
      deferred_weight_grads_.run();
      if (backward_hook_) backward_hook_(stage_.first_layer);
    }
  } else {
    stage_input_grad_ = grad;
  }
}

void GPTModel::swap_activations(Activations& other) {
  if (embedding_) embedding_->swap_saved(other.embedding);
  other.layers.resize(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->swap_saved(other.layers[i]);
  if (final_norm_) final_norm_->swap_saved(other.final_norm);
  if (loss_) loss_->swap_saved(other.loss);
  std::swap(segment_inputs_, other.segment_inputs);
  std::swap(doc_offsets_, other.doc_offsets);
  std::swap(final_out_, other.final_out);
  std::swap(logits_, other.logits);
  std::swap(forward_dropout_, other.forward_dropout);
  std::swap(forward_done_, other.forward_done);
}

void GPTModel::reduce_sequence_parallel_grads() {
  if (!sequence_parallel(parallel_)) return;
  for (int i = 0; i < params_->size(); ++i)
    if (params_->info(i).sequence_parallel) parallel_.tp_comm->all_reduce(params_->grad(i), comm::ReduceOp::sum);
}

}  // namespace mcpp::model
