// GradReducer's piece-by-piece reduction of the bucket that holds the first layer (overlapped,
// distributed optimizer): every run of gradients final together goes onto the ranks owning its
// elements as soon as it is final, the first layer's deferred weight gradients one GEMM at a
// time. Checked from rank 0 of a 4-rank group whose collectives are only recorded.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/model/gpt_model.h"
#include "parallel/grad_buffer.h"
#include "test/model/model_test_util.h"

using namespace mcpp;
using namespace mcpp::parallel;

namespace {

// Rank 0 of `size` ranks: every collective is recorded (as elements of the one gradient buffer)
// and completes at once without moving data.
class RecordingCommunicator final : public comm::Communicator {
 public:
  struct Call {
    std::string op;
    int64_t begin = 0;
    int64_t end = 0;
    int root = -1;
  };
  RecordingCommunicator(int size, const Tensor& buffer) : size_(size), buffer_(buffer) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  void all_reduce(const Tensor& t, comm::ReduceOp) override { record("all_reduce", t, -1); }
  void reduce_scatter(const Tensor& input, const Tensor&, comm::ReduceOp) override {
    record("reduce_scatter", input, -1);
  }
  void all_gather(const Tensor&, const Tensor& output) override { record("all_gather", output, -1); }
  void broadcast(const Tensor& t, int root) override { record("broadcast", t, root); }
  void reduce(const Tensor& t, int root, comm::ReduceOp) override { record("reduce", t, root); }
  void send(const Tensor&, int) override {}
  void recv(const Tensor&, int) override {}
  void barrier() override {}

  // Marks the point `what` in the call sequence (the model's hooks).
  void note(const std::string& what) { calls.push_back({what}); }
  std::vector<Call> calls;

 private:
  void record(const char* op, const Tensor& t, int root) {
    const int64_t begin = (static_cast<const char*>(t.raw_data()) - static_cast<const char*>(buffer_.raw_data())) /
                          static_cast<int64_t>(dtype_size(t.dtype()));
    calls.push_back({op, begin, begin + t.numel(), root});
  }
  int size_;
  Tensor buffer_;
};

}  // namespace

TEST_CASE("the first layer's bucket is reduced piece by piece onto the owners, deferred GEMM by deferred GEMM") {
  constexpr int kRanks = 4;
  model::ModelConfig config = model::testing::gpt2_config();
  config.num_layers = 3;
  config.finalize();
  comm::SingleRankCommunicator single;
  DdpOptions ddp;
  ddp.use_distributed_optimizer = true;
  ddp.overlap_grad_reduce = true;
  ddp.bucket_size = 1000000000;  // one bucket for the whole model
  ddp.dp_cp_size = kRanks;
  model::GPTModel model(config, model::ParallelContext::single(single), Device::CPU, ddp_buffer_layout(ddp));
  const model::ParamBuffer& params = model.params();
  REQUIRE(params.groups().size() == 1);
  REQUIRE(params.groups()[0].buckets.size() == 1);
  const model::Bucket bucket = params.groups()[0].buckets[0];
  RecordingCommunicator dp(kRanks, params.groups()[0].grads);
  GradReducer reducer(params, dp, /*use_distributed_optimizer=*/true, config.num_layers);

  model.set_defer_first_layer_weight_grads(true);
  model.set_backward_hook([&](int part) {
    dp.note("part " + std::to_string(part));
    reducer.part_ready(part);
  });
  std::vector<std::string> deferred_final;  // keys, in the order the hook reported them
  model.set_grad_final_hook([&](const Tensor& grad) {
    for (int i = 0; i < params.size(); ++i)
      if (params.grad(i).raw_data() == grad.raw_data()) deferred_final.push_back(params.info(i).key);
    dp.note("grad " + deferred_final.back());
    reducer.grad_final(grad);
  });
  const model::LossPair loss = model.forward(model::testing::random_batch(config, 2, 7));
  reducer.start_overlap();
  model.backward(static_cast<float>(1.0 / loss.num_tokens));
  dp.note("finish");
  reducer.finish();

  // The first layer's linear weights (and the biases their GEMMs produce) were reported one GEMM
  // at a time, in backward order.
  const std::string fc2 = "decoder.layers.0.mlp.linear_fc2.weight", fc1 = "decoder.layers.0.mlp.linear_fc1.weight";
  const std::string proj = "decoder.layers.0.self_attention.linear_proj.weight";
  const std::string qkv = "decoder.layers.0.self_attention.linear_qkv.weight";
  REQUIRE(deferred_final.size() >= 4);
  CHECK(deferred_final.front() == fc2);
  CHECK(deferred_final.back() == "decoder.layers.0.self_attention.linear_qkv.bias");

  // Every element of the bucket is reduced exactly once, onto the rank owning it.
  std::vector<int> times(static_cast<size_t>(bucket.numel()), 0);
  int reduces = 0;
  for (const auto& call : dp.calls) {
    if (call.op != "reduce" && call.op.find(' ') != std::string::npos) continue;  // a hook call
    if (call.op == "finish") continue;
    REQUIRE(call.op == "reduce");
    ++reduces;
    const ShardRange owned = bucket_shard(bucket, call.root, kRanks);
    CHECK(call.begin >= owned.begin);
    CHECK(call.end <= owned.end);
    for (int64_t i = call.begin; i < call.end; ++i) ++times[static_cast<size_t>(i - bucket.begin)];
  }
  CHECK(std::all_of(times.begin(), times.end(), [](int n) { return n == 1; }));
  CHECK(reducer.pieces_reduced_separately() == reduces);

  // Each gradient is reduced right after the hook that made it final: before the next hook call.
  auto reduced_before = [&](const std::string& key, size_t call_end) {
    const int64_t begin = params.offset_of(params.index_of(key));
    const int64_t end = begin + params.grad(key).numel();
    int64_t covered = 0;
    for (size_t c = 0; c < call_end; ++c)
      if (dp.calls[c].op == "reduce")
        covered += std::max<int64_t>(0, std::min(end, dp.calls[c].end) - std::max(begin, dp.calls[c].begin));
    return covered == end - begin;
  };
  auto position = [&](const std::string& what) {  // index of the call named `what`
    for (size_t c = 0; c < dp.calls.size(); ++c)
      if (dp.calls[c].op == what) return c;
    FAIL("no call " << what);
    return size_t(0);
  };
  CHECK(reduced_before("decoder.layers.2.mlp.linear_fc1.weight", position("part 1")));
  CHECK(reduced_before("decoder.layers.1.self_attention.linear_qkv.weight", position("part -1")));
  CHECK_FALSE(reduced_before("embedding.word_embeddings.weight", position("part -1")));
  CHECK(reduced_before("embedding.word_embeddings.weight", position("grad " + fc2)));
  // Each deferred weight gradient goes as soon as its GEMM has run, before the next GEMM's.
  CHECK_FALSE(reduced_before(fc2, position("grad " + fc2)));
  CHECK(reduced_before(fc2, position("grad " + fc1)));
  CHECK_FALSE(reduced_before(fc1, position("grad " + fc1)));
  CHECK(reduced_before(fc1, position("grad " + proj)));
  CHECK(reduced_before(proj, position("grad " + qkv)));
  CHECK_FALSE(reduced_before(qkv, position("grad " + qkv)));
  CHECK(reduced_before(qkv, position("part 0")));
  // The first layer's norms are final with the part (after the deferred GEMMs), the last pieces.
  CHECK_FALSE(reduced_before("decoder.layers.0.input_layernorm.weight", position("part 0")));
  CHECK(reduced_before("decoder.layers.0.input_layernorm.weight", position("finish")));
}
