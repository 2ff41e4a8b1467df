// Deferring the first layer's weight-gradient GEMMs past the embedding backward (so the
// embedding's data-parallel reduction can start first) must change only when those GEMMs run:
// the backward hook reports the embedding before the first layer, the first layer's weight
// gradients are still untouched at that moment, and every gradient ends bitwise the same.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {

struct Run {
  std::vector<int> parts;      // the backward hook's calls, in order (both micro-batches)
  bool first_layer_grads_zero_at_embedding = false;  // first micro-batch, at the hook's -1
  std::vector<float> grads;
};

Run train(ModelConfig config, bool defer) {
  comm::SingleRankCommunicator comm;
  const ParallelContext parallel = ParallelContext::single(comm);
  GPTModel model(config, parallel);
  model.set_defer_first_layer_weight_grads(defer);
  Run run;
  const Tensor fc1_grad = model.params().ref("decoder.layers.0.mlp.linear_fc1.weight").grad;
  const Tensor qkv_grad = model.params().ref("decoder.layers.0.self_attention.linear_qkv.weight").grad;
  model.set_backward_hook([&](int part) {
    if (part == -1 && run.parts.size() <= static_cast<size_t>(config.num_layers + 1)) {
      auto all_zero = [](const Tensor& t) {
        const auto v = to_vector(t);
        return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
      };
      run.first_layer_grads_zero_at_embedding = all_zero(fc1_grad) && all_zero(qkv_grad);
    }
    run.parts.push_back(part);
  });
  for (uint64_t mb = 0; mb < 2; ++mb) {
    model.dropout().step = 3 + mb;
    const LossPair loss = model.forward(random_batch(config, 2, 40 + mb));
    model.backward(static_cast<float>(1.0 / loss.num_tokens / 2));
  }
  run.grads = all_grads(model.params());
  return run;
}

}  // namespace

TEST_CASE("deferred first-layer weight gradients: embedding reported first, gradients bitwise unchanged") {
  for (ModelConfig config : {gpt2_config(), llama_config()}) {
    config.num_layers = 3;
    config.hidden_dropout = 0.1;
    config.finalize();
    const Run plain = train(config, false);
    const Run deferred = train(config, true);
    const std::vector<int> plain_order{3, 2, 1, 0, -1, 3, 2, 1, 0, -1};
    const std::vector<int> deferred_order{3, 2, 1, -1, 0, 3, 2, 1, -1, 0};
    CHECK(plain.parts == plain_order);
    CHECK(deferred.parts == deferred_order);
    CHECK_FALSE(plain.first_layer_grads_zero_at_embedding);
    CHECK(deferred.first_layer_grads_zero_at_embedding);
    REQUIRE(!plain.grads.empty());
    REQUIRE(plain.grads.size() == deferred.grads.size());
    CHECK(std::memcmp(plain.grads.data(), deferred.grads.data(), plain.grads.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("deferred first-layer weight gradients: a stage without the embedding defers nothing") {
  ModelConfig config = gpt2_config();
  config.num_layers = 4;
  config.finalize();
  comm::SingleRankCommunicator comm;
  ParallelContext parallel = ParallelContext::single(comm);
  parallel.pp_size = 2;  // the second of two stages: layers 2 and 3 and the loss
  parallel.pp_rank = 1;
  GPTModel model(config, parallel, Device::CPU, {}, PipelineStage{2, 2, false, true});
  model.set_defer_first_layer_weight_grads(true);
  std::vector<int> parts;
  model.set_backward_hook([&](int part) { parts.push_back(part); });
  model.forward(random_batch(config, 2, 5), [&] {
    Tensor input = Tensor::empty({config.seq_length, 2, config.hidden}, DType::F32);
    input.fill(0.25);
    return input;
  }());
  model.backward(1.0f);
  CHECK(parts == std::vector<int>{4, 3, 2});
}
