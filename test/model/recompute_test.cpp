// Activation recompute must not change anything: full (uniform, block) and selective recompute
// give bitwise the same losses and gradients as keeping every activation, with dropout on.
#include <catch2/catch.hpp>

#include <cstring>

#include "model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {

struct Result {
  std::vector<double> losses;
  std::vector<float> grads;
};

Result train_two_microbatches(ModelConfig config) {
  comm::SingleRankCommunicator comm;
  const ParallelContext parallel = ParallelContext::single(comm);
  GPTModel model(config, parallel);
  Result result;
  for (uint64_t mb = 0; mb < 2; ++mb) {
    model.dropout().step = 10 + mb;
    const LossPair loss = model.forward(random_batch(config, 2, 20 + mb));
    result.losses.push_back(loss.loss_sum);
    model.dropout().step = 999;  // the loop may move on: recompute must replay the forward's masks
    model.backward(static_cast<float>(1.0 / loss.num_tokens / 2));
  }
  result.grads = all_grads(model.params());
  return result;
}

ModelConfig with_recompute(ModelConfig c, RecomputeGranularity granularity, RecomputeMethod method, int layers) {
  c.recompute = granularity;
  c.recompute_method = method;
  c.recompute_num_layers = layers;
  c.finalize();
  return c;
}

}  // namespace

TEST_CASE("full and selective recompute give bitwise identical gradients") {
  for (ModelConfig base : {gpt2_config(), llama_config()}) {
    base.num_layers = 3;
    base.attention_dropout = 0.1;
    base.hidden_dropout = 0.1;
    base.finalize();
    const Result reference = train_two_microbatches(base);
    REQUIRE(!reference.grads.empty());
    const ModelConfig variants[] = {
        with_recompute(base, RecomputeGranularity::full, RecomputeMethod::uniform, 1),
        with_recompute(base, RecomputeGranularity::full, RecomputeMethod::uniform, 2),
        with_recompute(base, RecomputeGranularity::full, RecomputeMethod::block, 2),
        with_recompute(base, RecomputeGranularity::selective, RecomputeMethod::none, 0),
    };
    for (const ModelConfig& variant : variants) {
      const Result r = train_two_microbatches(variant);
      CHECK(r.losses == reference.losses);
      REQUIRE(r.grads.size() == reference.grads.size());
      CHECK(std::memcmp(r.grads.data(), reference.grads.data(), r.grads.size() * sizeof(float)) == 0);
    }
  }
}
