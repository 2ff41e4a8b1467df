// Tensor parallelism: the model split over 2 or 4 ranks (threads sharing a ThreadCommunicator)
// computes the same loss as the single-rank model, and every rank's gradient shard equals the
// matching slice of the single-rank gradients (column/row-parallel linears, whole query groups,
// [gate ; up] SwiGLU shards, vocab-parallel embedding, output layer and cross-entropy), with and
// without sequence parallelism (norms, dropout and residuals on sequence shards).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "model_test_util.h"
#include "thread_communicator.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {

struct RankResult {
  LossPair loss;
  std::vector<ParamInfo> infos;
  std::vector<std::vector<float>> params, grads;
  std::exception_ptr error;
};

void run_rank(const ModelConfig& config, const ParallelContext& parallel, const std::vector<MicroBatch>& batches,
              RankResult& out) {
  try {
    GPTModel model(config, parallel);
    out.loss = {};
    for (size_t mb = 0; mb < batches.size(); ++mb) {
      model.dropout().step = mb;
      const LossPair loss = model.forward(batches[mb]);
      out.loss.loss_sum += loss.loss_sum;
      out.loss.num_tokens += loss.num_tokens;
      model.backward(static_cast<float>(1.0 / loss.num_tokens / batches.size()));
    }
    model.reduce_sequence_parallel_grads();
    for (int i = 0; i < model.params().size(); ++i) {
      out.infos.push_back(model.params().info(i));
      out.params.push_back(to_vector(model.params().param(i)));
      out.grads.push_back(to_vector(model.params().grad(i)));
    }
  } catch (...) {
    out.error = std::current_exception();
  }
}

void check_tensor_parallel(ModelConfig config, int tp_size, bool sequence_parallel = false) {
  config.attention_dropout = 0;  // its mask index uses the local head number
  config.hidden_dropout = 0.1;   // replicated activations: the same mask on every rank
  config.finalize(tp_size);
  const std::vector<MicroBatch> batches = {random_batch(config, 2, 30), random_batch(config, 2, 31)};

  comm::SingleRankCommunicator single;
  RankResult reference;
  run_rank(config, ParallelContext::single(single), batches, reference);
  if (reference.error) std::rethrow_exception(reference.error);

  auto group = std::make_shared<ThreadGroup>(tp_size);
  std::vector<std::unique_ptr<ThreadCommunicator>> comms;
  std::vector<ParallelContext> contexts(tp_size);
  std::vector<RankResult> results(tp_size);
  for (int r = 0; r < tp_size; ++r) {
    comms.push_back(std::make_unique<ThreadCommunicator>(group, r));
    contexts[r].tp_rank = r;
    contexts[r].tp_size = tp_size;
    contexts[r].tp_comm = comms[r].get();
    contexts[r].sequence_parallel = sequence_parallel;
  }
  std::vector<std::thread> threads;
  for (int r = 0; r < tp_size; ++r)
    threads.emplace_back([&, r] { run_rank(config, contexts[r], batches, results[r]); });
  for (auto& t : threads) t.join();

  for (int r = 0; r < tp_size; ++r) {
    if (results[r].error) std::rethrow_exception(results[r].error);
    CHECK(results[r].loss.num_tokens == reference.loss.num_tokens);
    CHECK(results[r].loss.loss_sum == Approx(reference.loss.loss_sum).epsilon(1e-5));
    REQUIRE(results[r].infos.size() == reference.infos.size());
    for (size_t p = 0; p < reference.infos.size(); ++p) {
      const ParamInfo& info = results[r].infos[p];
      REQUIRE(info.key == reference.infos[p].key);
      const std::vector<float>& full_grad = reference.grads[p];
      double scale = 0;
      for (float g : full_grad) scale = std::max(scale, double(std::abs(g)));
      int64_t value_mismatches = 0, grad_mismatches = 0;
      for (int64_t k = 0; k < info.local_numel(); ++k) {
        const int64_t global = info.global_index(k);
        value_mismatches += results[r].params[p][k] != reference.params[p][global];
        grad_mismatches += std::abs(double(results[r].grads[p][k]) - full_grad[global]) > 1e-4 * scale + 1e-7;
      }
      INFO(info.key << " on TP rank " << r << " of " << tp_size << (sequence_parallel ? " with SP" : ""));
      CHECK(value_mismatches == 0);
      CHECK(grad_mismatches == 0);
    }
  }
}

}  // namespace

TEST_CASE("tensor-parallel GPT-2 style model matches the single-rank model (tp 2 and 4)") {
  check_tensor_parallel(gpt2_config(), 2);
  check_tensor_parallel(gpt2_config(), 4);
}

TEST_CASE("tensor-parallel Llama style model matches the single-rank model (tp 2)") {
  check_tensor_parallel(llama_config(), 2);
}

TEST_CASE("sequence-parallel model matches the single-rank model (GPT-2 tp 2 and 4, Llama tp 2)") {
  check_tensor_parallel(gpt2_config(), 2, true);
  check_tensor_parallel(gpt2_config(), 4, true);
  check_tensor_parallel(llama_config(), 2, true);
}
