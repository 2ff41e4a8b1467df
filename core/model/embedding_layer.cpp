#include "core/model/embedding_layer.h"

#include <utility>

#include "core/kernels/dropout.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/embedding.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

EmbeddingLayer::EmbeddingLayer(const ModelConfig& config, const ParallelContext& parallel,
                               ParamRef word, ParamRef position)
    : dropout_p_(static_cast<float>(config.hidden_dropout)),
      parallel_(parallel),
      word_(std::move(word)),
      position_(std::move(position)),
      vocab_start_(word_.value.dim(0) * parallel.tp_rank) {}

Tensor EmbeddingLayer::forward(const Tensor& tokens, const Tensor& positions, const DropoutState& dropout) {
  const int64_t s = tokens.dim(0), b = tokens.dim(1), h = word_.value.dim(1);
  saved_.tokens = tokens;
  Tensor partial = Tensor::empty({s, b, h}, word_.value.dtype(), word_.value.device());
  core::embedding_forward(tokens, word_.value, vocab_start_, partial);
  // Each rank looked up only its vocabulary range: sum the shards (and keep this rank's part of
  // the sequence under sequence parallelism).
  Tensor out = leave_row_parallel(parallel_, partial);
  const int64_t local_s = out.dim(0), first = sequence_parallel(parallel_) ? local_s * parallel_.tp_rank : 0;
  if (position_.defined()) {
    if (positions.defined()) {
      saved_.positions = positions;
    } else {
      Tensor host = Tensor::empty({s, b}, DType::I64);
      int64_t* p = host.data<int64_t>();
      for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < b; ++j) p[i * b + j] = i;
      saved_.positions = host.to(out.device());
    }
    Tensor pos = Tensor::empty({local_s, b, h}, out.dtype(), out.device());
    core::embedding_forward(saved_.positions.slice(first, first + local_s), position_.value, 0, pos);
    core::add(out, pos, out);
  }
  saved_.dropped = dropout.training && dropout_p_ > 0;
  if (saved_.dropped) {
    saved_.rng = dropout.stream(-1, DropoutSite::embedding);
    saved_.rng.offset = sequence_shard_offset(parallel_, out);
    core::dropout_forward(out, dropout_p_, saved_.rng, out);
  }
  return out;
}

void EmbeddingLayer::backward(const Tensor& dy) {
  Tensor grad = dy;
  if (saved_.dropped) {
    grad = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
    core::dropout_backward(dy, dropout_p_, saved_.rng, grad);
  }
  // Every rank needs the gradient of the whole sequence (all-gathered under sequence parallelism).
  grad = leave_row_parallel_backward(parallel_, grad);
  core::embedding_backward(saved_.tokens, grad, vocab_start_, word_.grad);
  if (position_.defined()) core::embedding_backward(saved_.positions, grad, 0, position_.grad);
}

void EmbeddingLayer::swap_saved(Saved& other) { std::swap(saved_, other); }

void EmbeddingLayer::release() { saved_ = Saved{}; }

}  // namespace mcpp::model
