#pragma once
// Tiny model configurations and helpers shared by the model tests.
#include <cstdint>
#include <vector>

#include "core/base/philox.h"
#include "core/comm/communicator.h"
#include "core/kernels/random_init.h"
#include "core/model/gpt_model.h"

namespace mcpp::model::testing {

// GPT-2 style: LayerNorm, GELU, learned positions, biases, tied embeddings.
inline ModelConfig gpt2_config() {
  ModelConfig c;
  c.num_layers = 2;
  c.hidden = 16;
  c.heads = 4;
  c.seq_length = 8;
  c.padded_vocab_size = 32;
  c.attention_dropout = 0;
  c.hidden_dropout = 0;
  c.seed = 7;
  c.finalize();
  return c;
}

// Llama style: RMSNorm, SwiGLU, RoPE, GQA, no biases, untied output layer.
inline ModelConfig llama_config() {
  ModelConfig c;
  c.num_layers = 2;
  c.hidden = 16;
  c.heads = 4;
  c.query_groups = 2;
  c.ffn_hidden = 24;
  c.seq_length = 8;
  c.padded_vocab_size = 32;
  c.position_embedding = PositionEmbedding::rope;
  c.normalization = Normalization::RMSNorm;
  c.swiglu = true;
  c.add_bias_linear = false;
  c.untie_embeddings = true;
  c.attention_dropout = 0;
  c.hidden_dropout = 0;
  c.seed = 11;
  c.finalize();
  return c;
}

// A parallel context with only TP rank and size set (enough for parameter metadata and buffers).
inline ParallelContext tp_context(int rank, int size) {
  ParallelContext p;
  p.tp_rank = rank;
  p.tp_size = size;
  return p;
}

inline Tensor random_tokens(int64_t b, int64_t s, int64_t vocab, uint64_t stream) {
  Tensor t = Tensor::empty({b, s}, DType::I64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < b * s; ++i)
    p[i] = static_cast<int64_t>(philox_uniform(99, stream, i) * vocab) % vocab;
  return t;
}

inline MicroBatch random_batch(const ModelConfig& c, int64_t b, uint64_t stream) {
  MicroBatch batch;
  batch.tokens = random_tokens(b, c.seq_length, c.padded_vocab_size, stream);
  batch.labels = random_tokens(b, c.seq_length, c.padded_vocab_size, stream + 1000);
  batch.loss_mask = Tensor::empty({b, c.seq_length}, DType::F32);
  float* m = batch.loss_mask.data<float>();
  for (int64_t i = 0; i < b * c.seq_length; ++i) m[i] = (i % 5 == 3) ? 0.0f : 1.0f;
  return batch;
}

inline Tensor random_tensor(const Shape& shape, float std, uint64_t stream, float mean = 0) {
  Tensor t = Tensor::empty(shape);
  core::init_normal(t, mean, std, PhiloxStream{4321, stream, 0});
  return t;
}

// Larger-than-init values so finite differences see well-sized gradients: weights N(0, 0.3),
// norm weights N(1, 0.2), biases N(0, 0.1).
inline void randomize_parameters(const ParamBuffer& params, uint64_t stream) {
  for (int i = 0; i < params.size(); ++i) {
    const ParamInfo& info = params.info(i);
    const bool is_norm = info.init == ParamInit::ones;
    const bool is_bias = info.init == ParamInit::zeros;
    core::init_normal(params.param(i), is_norm ? 1.0f : 0.0f, is_norm ? 0.2f : is_bias ? 0.1f : 0.3f,
                      PhiloxStream{777, stream * 1000 + uint64_t(i), 0});
  }
}

inline std::vector<float> to_vector(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<float>(p, p + t.numel());
}

// Every gradient of the buffer's groups, in buffer order, on the host.
inline std::vector<float> all_grads(const ParamBuffer& params) {
  std::vector<float> grads;
  for (const auto& group : params.groups()) {
    const auto g = to_vector(group.grads.to(Device::CPU));
    grads.insert(grads.end(), g.begin(), g.end());
  }
  return grads;
}

}  // namespace mcpp::model::testing
