// Finite-difference checks of the whole tiny model's backward, GPT-2 style and Llama style, fp32.
// The objective is the mean masked token loss (loss_sum / num_tokens, summed in double by the
// test); a deterministic sample of elements of every parameter is perturbed by ±eps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {

double mean_loss(GPTModel& model, const MicroBatch& batch) {
  const LossPair loss = model.forward(batch);
  return loss.loss_sum / loss.num_tokens;
}

// Central difference with eps = 1e-2 on parameters of magnitude ~0.3 (fp32 forward).
// Tolerance: |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric|.
void check_model_gradients(ModelConfig config, int64_t micro_batch) {
  comm::SingleRankCommunicator comm;
  const ParallelContext parallel = ParallelContext::single(comm);
  GPTModel model(config, parallel);
  randomize_parameters(model.params(), 1);
  const MicroBatch batch = random_batch(config, micro_batch, 5);

  const LossPair loss = model.forward(batch);
  REQUIRE(loss.num_tokens > 0);
  model.zero_grads();
  model.backward(static_cast<float>(1.0 / loss.num_tokens));

  const float eps = 1e-2f;
  int checked = 0;
  for (int p = 0; p < model.params().size(); ++p) {
    const Tensor& param = model.params().param(p);
    const Tensor& grad = model.params().grad(p);
    float* values = param.data<float>();
    const int64_t n = param.numel();
    const int samples = static_cast<int>(std::min<int64_t>(n, 6));
    for (int k = 0; k < samples; ++k) {
      const int64_t i = (k * 7919 + p * 31) % n;
      const float saved = values[i];
      values[i] = saved + eps;
      const double plus = mean_loss(model, batch);
      values[i] = saved - eps;
      const double minus = mean_loss(model, batch);
      values[i] = saved;
      const double numeric = (plus - minus) / (2.0 * eps);
      const double analytic = grad.data<float>()[i];
      INFO(model.params().info(p).key << "[" << i << "] analytic " << analytic << " numeric " << numeric);
      CHECK(std::abs(analytic - numeric) <= 2e-3 + 2e-2 * std::abs(numeric));
      ++checked;
    }
  }
  CHECK(checked > 50);
}

}  // namespace

TEST_CASE("GPT-2 style model gradients match finite differences") {
  check_model_gradients(gpt2_config(), 2);
}

TEST_CASE("Llama style model gradients match finite differences") {
  check_model_gradients(llama_config(), 2);
}

TEST_CASE("model gradients with dropout on match finite differences (masks are fixed per step)") {
  ModelConfig config = gpt2_config();
  config.attention_dropout = 0.2;
  config.hidden_dropout = 0.2;
  check_model_gradients(config, 1);
}
