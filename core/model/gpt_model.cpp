#include "core/model/gpt_model.h"

#include "core/base/error.h"
#include "core/kernels/cross_entropy.h"
#include "core/kernels/linear.h"
#include "core/model/tensor_layout.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

GPTModel::GPTModel(ModelConfig config, const ParallelContext& parallel, Device device)
    : config_(std::move(config)), parallel_(parallel) {
  check(parallel.tp_comm != nullptr, "the model needs a tensor-parallel communicator");
  check(parallel.tp_size == 1 || !parallel.sequence_parallel,
        "--sequence-parallel is not supported by the model yet");
  check(parallel.tp_size == 1,
        "--tensor-model-parallel-size > 1 needs vocab-parallel cross-entropy, which the model "
        "does not have yet");
  check(parallel.pp_size == 1 && parallel.cp_size == 1 && parallel.ep_size == 1,
        "pipeline, context and expert parallelism are not supported by the model yet");
  check(device == Device::CPU, "the model runs on the CPU backend only for now");
  params_ = std::make_unique<ParamBuffer>(gpt_param_infos(config_, parallel), DType::F32, device);
  initialize_parameters(*params_, config_.seed);
  dropout_.seed = config_.seed;

  const ParamBuffer& p = *params_;
  embedding_ = std::make_unique<EmbeddingLayer>(config_, parallel_, p.ref("embedding.word_embeddings.weight"),
                                                p.ref("embedding.position_embeddings.weight"));
  for (int layer = 0; layer < config_.num_layers; ++layer) {
    layers_.push_back(std::make_unique<TransformerLayer>(config_, parallel_, p, layer));
    layers_.back()->set_selective_recompute(config_.recompute == RecomputeGranularity::selective);
  }
  final_norm_ = std::make_unique<NormLayer>(config_, p.ref("decoder.final_layernorm.weight"),
                                            p.ref("decoder.final_layernorm.bias"));
  // Tied: the output layer multiplies by the word embedding and its gradient accumulates there.
  output_weight_ = config_.untie_embeddings ? p.ref("output_layer.weight")
                                            : p.ref("embedding.word_embeddings.weight");
  segments_ = recompute_segments(config_, config_.num_layers);
}

LossPair GPTModel::forward(const MicroBatch& batch) {
  check(batch.tokens.defined() && batch.labels.defined(), "a micro-batch needs tokens and labels");
  check(batch.tokens.shape() == batch.labels.shape(), "micro-batch tokens and labels differ in shape");
  const int64_t b = batch.tokens.dim(0), s = batch.tokens.dim(1);
  check(s <= config_.max_position_embeddings || config_.position_embedding != PositionEmbedding::learned_absolute,
        "sequence length " + std::to_string(s) + " exceeds --max-position-embeddings");
  forward_dropout_ = dropout_;
  const Tensor tokens = to_sequence_first(batch.tokens);
  labels_ = to_sequence_first(batch.labels).view({s * b});
  loss_mask_ = batch.loss_mask.defined() ? to_sequence_first(batch.loss_mask).view({s * b}) : Tensor();
  doc_offsets_ = batch.doc_offsets;
  const Tensor positions = batch.position_ids.defined() ? to_sequence_first(batch.position_ids) : Tensor();

  Tensor hidden = embedding_->forward(tokens, positions, forward_dropout_);
  segment_inputs_.assign(segments_.size(), Tensor());
  for (size_t g = 0; g < segments_.size(); ++g) {
    const RecomputeSegment& segment = segments_[g];
    segment_inputs_[g] = hidden;
    for (int layer = segment.begin; layer < segment.end; ++layer)
      hidden = layers_[layer]->forward(hidden, doc_offsets_, forward_dropout_);
    if (segment.recompute)
      for (int layer = segment.begin; layer < segment.end; ++layer) layers_[layer]->release();
  }
  final_out_ = final_norm_->forward(hidden);

  // Column-parallel output layer (copy-to-TP forward is the identity): logits of this rank's
  // vocabulary range.
  const int64_t h = config_.hidden;
  logits_ = Tensor::empty({s * b, output_weight_.value.dim(0)}, DType::F32, final_out_.device());
  core::linear_forward(final_out_.view({s * b, h}), output_weight_.value, Tensor(), logits_);
  Tensor losses = Tensor::empty({s * b}, DType::F32, logits_.device());
  lse_ = Tensor::empty({s * b}, DType::F32, logits_.device());
  Tensor totals = Tensor::empty({2}, DType::F32, logits_.device());
  core::cross_entropy_forward(logits_, labels_, loss_mask_, core::CrossEntropyOptions{}, losses, lse_, totals);
  const float* t = totals.data<float>();
  return LossPair{t[0], t[1]};
}

void GPTModel::backward(float loss_grad_scale) {
  check(logits_.defined(), "GPTModel::backward called without a preceding forward");
  const int64_t h = config_.hidden;
  const int64_t rows = logits_.dim(0);
  // The logits buffer becomes its own gradient.
  core::cross_entropy_backward(logits_, labels_, loss_mask_, lse_, loss_grad_scale,
                               core::CrossEntropyOptions{}, logits_);
  Tensor dfinal = Tensor::empty(final_out_.shape(), DType::F32, final_out_.device());
  core::linear_backward(final_out_.view({rows, h}), output_weight_.value, logits_, dfinal.view({rows, h}),
                        output_weight_.grad, Tensor());
  copy_to_tp_region_backward(parallel_, dfinal);
  logits_ = final_out_ = lse_ = Tensor();

  Tensor grad = final_norm_->backward(dfinal);
  final_norm_->release();
  for (size_t g = segments_.size(); g-- > 0;) {
    const RecomputeSegment& segment = segments_[g];
    if (segment.recompute) {
      Tensor hidden = segment_inputs_[g];
      for (int layer = segment.begin; layer < segment.end; ++layer)
        hidden = layers_[layer]->forward(hidden, doc_offsets_, forward_dropout_);
    }
    for (int layer = segment.end - 1; layer >= segment.begin; --layer) {
      grad = layers_[layer]->backward(grad);
      layers_[layer]->release();
    }
    segment_inputs_[g] = Tensor();
  }
  embedding_->backward(grad);
  embedding_->release();
}

}  // namespace mcpp::model
