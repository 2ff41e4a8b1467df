// Loss bookkeeping (Megatron's loss_func: masked loss sum and token count per micro-batch),
// gradient accumulation with the caller's scale, document-bounded attention and dropout streams.
#include <catch2/catch.hpp>

#include <cmath>

#include "model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {
struct Setup {
  explicit Setup(ModelConfig c) : config(c), parallel(ParallelContext::single(comm)), model(c, parallel) {}
  ModelConfig config;
  comm::SingleRankCommunicator comm;
  ParallelContext parallel;
  GPTModel model;
};

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::abs(x)));
  return m;
}
}  // namespace

TEST_CASE("loss is the masked sum with the token count, zero logits give log(V) per token") {
  Setup s(gpt2_config());
  MicroBatch batch = random_batch(s.config, 2, 1);
  double mask_sum = 0;
  for (int64_t i = 0; i < batch.loss_mask.numel(); ++i) mask_sum += batch.loss_mask.data<float>()[i];
  LossPair loss = s.model.forward(batch);
  CHECK(loss.num_tokens == mask_sum);
  CHECK(loss.num_tokens < batch.tokens.numel());

  // A masked-out label does not matter; a counted one does.
  int64_t masked = -1, counted = -1;
  for (int64_t i = 0; i < batch.loss_mask.numel(); ++i)
    (batch.loss_mask.data<float>()[i] == 0 ? masked : counted) = i;
  batch.labels.data<int64_t>()[masked] = (batch.labels.data<int64_t>()[masked] + 1) % 32;
  CHECK(s.model.forward(batch).loss_sum == loss.loss_sum);
  batch.labels.data<int64_t>()[counted] = (batch.labels.data<int64_t>()[counted] + 1) % 32;
  CHECK(s.model.forward(batch).loss_sum != loss.loss_sum);

  // Tied embedding all zero: logits are 0, every counted token costs log(V).
  s.model.params().param("embedding.word_embeddings.weight").fill(0.0);
  loss = s.model.forward(batch);
  CHECK(loss.loss_sum == Approx(mask_sum * std::log(32.0)).epsilon(1e-6));
  batch.loss_mask = Tensor();
  CHECK(s.model.forward(batch).num_tokens == batch.tokens.numel());
}

TEST_CASE("gradients accumulate across micro-batches with Megatron's 1/tokens/M scale") {
  for (const ModelConfig& config : {gpt2_config(), llama_config()}) {
    Setup s(config);
    const MicroBatch a = random_batch(config, 2, 3), b = random_batch(config, 2, 4);
    auto grads_of = [&](const MicroBatch& batch, float scale_factor) {
      s.model.zero_grads();
      const LossPair loss = s.model.forward(batch);
      s.model.backward(static_cast<float>(scale_factor / loss.num_tokens));
      return to_vector(s.model.params().groups()[0].grads);
    };
    const std::vector<float> ga = grads_of(a, 1.0f), gb = grads_of(b, 1.0f);
    // Two micro-batches, each scaled by 1/(tokens · 2), accumulated without zeroing between.
    s.model.zero_grads();
    for (const MicroBatch* batch : {&a, &b}) {
      const LossPair loss = s.model.forward(*batch);
      s.model.backward(static_cast<float>(1.0 / loss.num_tokens / 2));
    }
    const std::vector<float> accumulated = to_vector(s.model.params().groups()[0].grads);
    const double scale = max_abs(ga) + max_abs(gb);
    REQUIRE(scale > 0);
    double worst = 0;
    for (size_t i = 0; i < accumulated.size(); ++i)
      worst = std::max(worst, std::abs(double(accumulated[i]) - 0.5 * (double(ga[i]) + gb[i])));
    CHECK(worst <= 1e-5 * scale);
  }
}

TEST_CASE("document boundaries keep attention inside each document") {
  for (const ModelConfig& config : {gpt2_config(), llama_config()}) {
    Setup s(config);
    const int64_t seq = config.seq_length, split = 3;
    MicroBatch batch = random_batch(config, 1, 8);
    // Count only the second document's tokens.
    for (int64_t j = 0; j < seq; ++j) batch.loss_mask.data<float>()[j] = j >= split ? 1.0f : 0.0f;
    const LossPair plain = s.model.forward(batch);

    Tensor one_document = Tensor::empty({1, 2}, DType::I64);
    one_document.data<int64_t>()[0] = 0;
    one_document.data<int64_t>()[1] = seq;
    batch.doc_offsets = one_document;
    CHECK(s.model.forward(batch).loss_sum == Approx(plain.loss_sum).epsilon(1e-6));

    Tensor two_documents = Tensor::empty({1, 3}, DType::I64);
    two_documents.data<int64_t>()[0] = 0;
    two_documents.data<int64_t>()[1] = split;
    two_documents.data<int64_t>()[2] = seq;
    batch.doc_offsets = two_documents;
    const LossPair bounded = s.model.forward(batch);
    CHECK(std::abs(bounded.loss_sum - plain.loss_sum) > 1e-4);

    // A token of the first document cannot influence the second document's losses any more.
    batch.tokens.data<int64_t>()[1] = (batch.tokens.data<int64_t>()[1] + 5) % config.padded_vocab_size;
    CHECK(s.model.forward(batch).loss_sum == bounded.loss_sum);
    batch.doc_offsets = Tensor();
    CHECK(s.model.forward(batch).loss_sum != plain.loss_sum);
  }
}

TEST_CASE("dropout masks depend on the step and vanish in evaluation") {
  ModelConfig config = llama_config();
  config.hidden_dropout = 0.3;
  config.attention_dropout = 0.3;
  Setup s(config);
  const MicroBatch batch = random_batch(config, 2, 6);
  s.model.dropout().step = 1;
  const double step1 = s.model.forward(batch).loss_sum;
  CHECK(s.model.forward(batch).loss_sum == step1);
  s.model.dropout().step = 2;
  const double step2 = s.model.forward(batch).loss_sum;
  CHECK(step2 != step1);
  s.model.dropout().training = false;
  const double eval = s.model.forward(batch).loss_sum;
  s.model.dropout().step = 1;
  CHECK(s.model.forward(batch).loss_sum == eval);
  CHECK(eval != step1);
}

TEST_CASE("single-rank communicator collectives are the identity") {
  comm::SingleRankCommunicator comm;
  CHECK(comm.rank() == 0);
  CHECK(comm.size() == 1);
  Tensor t = random_tensor({4, 3}, 1.0f, 1);
  const std::vector<float> before = to_vector(t);
  comm.all_reduce(t, comm::ReduceOp::sum);
  comm.all_reduce(t, comm::ReduceOp::max);
  comm.broadcast(t, 0);
  comm.barrier();
  CHECK(to_vector(t) == before);
  Tensor out = Tensor::zeros({12});
  comm.all_gather(t, out);
  CHECK(to_vector(out) == before);
  out.fill(0.0);
  comm.reduce_scatter(t, out, comm::ReduceOp::sum);
  CHECK(to_vector(out) == before);
  CHECK_THROWS_WITH(comm.send(t, 1), "send to rank 1: a single-rank communicator has no peers");
  CHECK_THROWS_AS(comm.recv(t, 0), mcpp::Error);
  CHECK_THROWS_AS(comm.broadcast(t, 1), mcpp::Error);
  CHECK_THROWS_AS(comm.all_gather(t, Tensor::zeros({5})), mcpp::Error);
}

TEST_CASE("the model rejects what it does not support yet with clear errors") {
  comm::SingleRankCommunicator comm;
  ParallelContext parallel = ParallelContext::single(comm);
  parallel.cp_size = 2;
  CHECK_THROWS_AS(GPTModel(gpt2_config(), parallel), mcpp::Error);
  parallel = ParallelContext::single(comm);
  parallel.tp_size = 2;
  parallel.sequence_parallel = true;
  ModelConfig odd = gpt2_config();
  odd.seq_length = 7;
  odd.finalize(2);
  CHECK_THROWS_WITH(GPTModel(odd, parallel),
                    "--seq-length 7 must be divisible by --tensor-model-parallel-size 2 with --sequence-parallel");
}
