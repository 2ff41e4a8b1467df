// The first layer's weight-gradient GEMMs deferred past the embedding backward on the GPU (bf16):
// the same GEMMs on the same operands, so every gradient is bitwise the one the plain backward
// gives (cuDNN's deterministic attention backward, as --deterministic-mode selects).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/kernels/cuda/attention_cudnn.h"
#include "test/model/model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {

std::vector<float> gradients_after_two_microbatches(const ModelConfig& config, bool defer) {
  comm::SingleRankCommunicator comm;
  const ParallelContext parallel = ParallelContext::single(comm);
  GPTModel model(config, parallel, Device::CUDA);
  model.set_defer_first_layer_weight_grads(defer);
  std::vector<int> parts;
  model.set_backward_hook([&](int part) { parts.push_back(part); });
  for (uint64_t mb = 0; mb < 2; ++mb) {
    model.dropout().step = 5 + mb;
    const LossPair loss = model.forward(random_batch(config, 2, 60 + mb));
    model.backward(static_cast<float>(1.0 / loss.num_tokens / 2));
  }
  // The embedding (-1) comes before the first layer (0) exactly when deferring.
  const auto embedding = std::find(parts.begin(), parts.end(), -1);
  const auto first_layer = std::find(parts.begin(), parts.end(), 0);
  REQUIRE(embedding != parts.end());
  REQUIRE(first_layer != parts.end());
  CHECK((embedding < first_layer) == defer);
  return all_grads(model.params());
}

ModelConfig gpu_sized(ModelConfig c) {
  c.num_layers = 3;
  c.hidden = 64;
  c.heads = 4;  // head dim 16 (cuDNN's fused attention)
  c.ffn_hidden = c.swiglu ? 160 : 256;
  c.seq_length = 32;
  c.max_position_embeddings = 32;
  c.padded_vocab_size = 128;
  c.hidden_dropout = 0.1;
  c.compute_dtype = DType::BF16;
  c.finalize();
  return c;
}

}  // namespace

TEST_CASE("deferred first-layer weight gradients on the GPU leave every bf16-run gradient bitwise unchanged") {
  core::gpu::set_deterministic(true);
  for (const ModelConfig& config : {gpu_sized(gpt2_config()), gpu_sized(llama_config())}) {
    const std::vector<float> plain = gradients_after_two_microbatches(config, false);
    const std::vector<float> deferred = gradients_after_two_microbatches(config, true);
    REQUIRE(!plain.empty());
    REQUIRE(plain.size() == deferred.size());
    CHECK(std::memcmp(plain.data(), deferred.data(), plain.size() * sizeof(float)) == 0);
  }
  core::gpu::set_deterministic(false);
}
