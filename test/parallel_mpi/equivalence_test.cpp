// Parallel training equals single-rank training: the tiny GPT model trained a few AdamW steps
// under DP, DP + distributed optimizer, TP, TP + SP (and combinations) gives the same losses,
// gradient norms and parameters as the same global batches trained on one rank, within fp32
// tolerance. Every rank also runs the single-rank reference itself (the model is tiny), with an
// optimizer written independently of parallel/ (per-parameter AdamW, plain norm and clipping).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <optional>
#include <tuple>

#include "core/base/philox.h"
#include "core/optim/adamw.h"
#include "core/optim/grad_norm.h"
#include "parallel/distributed_optimizer.h"
#include "parallel/finalize_grads.h"
#include "parallel/grad_buffer.h"
#include "parallel/pipeline_executor.h"
#include "parallel/pipeline_layout.h"
#include "parallel/pipeline_schedule.h"
#include "parallel/process_groups.h"
#include "test/common/mpi_test_util.h"

using namespace mcpp;
using namespace mcpp::parallel;
using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::run_on_ranks;

namespace {

constexpr int kGlobalBatch = 4;  // sequences per step (micro-batch size 1)
constexpr int kSteps = 3;
constexpr int64_t kRealVocab = 250;  // < padded 256: the padded rows take part too

model::ModelConfig gpt2_config() {
  model::ModelConfig c;
  c.num_layers = 2;
  c.hidden = 64;
  c.heads = 4;
  c.seq_length = 16;
  c.padded_vocab_size = 256;
  c.attention_dropout = 0;
  c.hidden_dropout = 0;
  c.seed = 5;
  return c;
}

model::ModelConfig llama_config() {
  model::ModelConfig c = gpt2_config();
  c.query_groups = 2;
  c.ffn_hidden = 128;
  c.position_embedding = model::PositionEmbedding::rope;
  c.normalization = model::Normalization::RMSNorm;
  c.swiglu = true;
  c.add_bias_linear = false;
  c.untie_embeddings = true;
  c.seed = 9;
  return c;
}

// Sequence `index` of step `step`: fixed random tokens, labels and a loss mask with holes.
model::MicroBatch sequence(const model::ModelConfig& c, int step, int index) {
  const int64_t s = c.seq_length;
  model::MicroBatch batch;
  batch.tokens = Tensor::empty({1, s}, DType::I64);
  batch.labels = Tensor::empty({1, s}, DType::I64);
  batch.loss_mask = Tensor::empty({1, s});
  const uint64_t stream = uint64_t(step) * 100 + uint64_t(index);
  for (int64_t i = 0; i < s; ++i) {
    batch.tokens.data<int64_t>()[i] = int64_t(philox_uniform(77, stream, i) * kRealVocab) % kRealVocab;
    batch.labels.data<int64_t>()[i] = int64_t(philox_uniform(78, stream, i) * kRealVocab) % kRealVocab;
    batch.loss_mask.data<float>()[i] = (i + index) % 7 == 3 ? 0.0f : 1.0f;
  }
  return batch;
}

// Runs the micro-batches of one step, Megatron's way: each backward scaled by
// 1 / tokens / num_microbatches. Returns (Σ loss_sum, Σ tokens) of this rank.
std::pair<double, double> forward_backward(model::GPTModel& model, int step, int first, int count,
                                           const std::function<void()>& before_last_backward = {}) {
  double loss = 0, tokens = 0;
  model.zero_grads();
  for (int m = 0; m < count; ++m) {
    const model::LossPair pair = model.forward(sequence(model.config(), step, first + m));
    if (m == count - 1 && before_last_backward) before_last_backward();
    model.backward(static_cast<float>(1.0 / std::max(pair.num_tokens, 1.0) / count));
    loss += pair.loss_sum;
    tokens += pair.num_tokens;
  }
  return {loss, tokens};
}

const optim::AdamConfig kAdam{0.9f, 0.95f, 1e-8f};
const optim::AdamStep kStep{1e-3f, 0.1f, 1};
constexpr double kClip = 0.5;

// The single-rank reference: whole batch on one rank, AdamW per parameter.
class Reference {
 public:
  explicit Reference(const model::ModelConfig& config)
      : context_(model::ParallelContext::single(comm_)), model_(config, context_) {
    for (int i = 0; i < model_.params().size(); ++i) {
      exp_avg_.emplace_back(model_.params().param(i).numel(), 0.0f);
      exp_avg_sq_.emplace_back(model_.params().param(i).numel(), 0.0f);
    }
  }

  // Returns (mean loss, grad norm).
  std::pair<double, double> train_step(int step) {
    const auto [loss, tokens] = forward_backward(model_, step, 0, kGlobalBatch);
    const model::ParamBuffer& p = model_.params();
    double squares = 0;
    for (int i = 0; i < p.size(); ++i) squares += optim::sum_of_squares(span(p.grad(i)));
    const double norm = std::sqrt(squares);
    const float coefficient = static_cast<float>(optim::clip_coefficient(kClip, norm));
    optim::AdamStep adam_step = kStep;
    adam_step.step = step + 1;
    for (int i = 0; i < p.size(); ++i) {
      optim::scale_in_place(span(p.grad(i)), coefficient);
      const std::vector<optim::ElementRange> no_decay =
          p.info(i).no_weight_decay ? std::vector<optim::ElementRange>{{0, size_t(p.param(i).numel())}}
                                    : std::vector<optim::ElementRange>{};
      optim::adamw_update(kAdam, adam_step, span(p.param(i)), span(p.grad(i)), exp_avg_[i], exp_avg_sq_[i], no_decay);
    }
    return {loss / tokens, norm};
  }

  const model::ParamBuffer& params() const { return model_.params(); }

 private:
  static std::span<float> span(const Tensor& t) { return {t.data<float>(), size_t(t.numel())}; }
  comm::SingleRankCommunicator comm_;
  model::ParallelContext context_;
  model::GPTModel model_;
  std::vector<std::vector<float>> exp_avg_, exp_avg_sq_;
};

struct Layout {
  int tp = 1;
  int pp = 1;
  bool sequence_parallel = false;
  bool distributed_optimizer = false;
  std::optional<int64_t> bucket_size;  // with --overlap-grad-reduce: several buckets
  // Overlapped with the distributed optimizer: how many bucket slices are reduced onto their
  // owners one by one (GradReducer's tail bucket), when the test knows.
  std::optional<int> slices_reduced_separately;
};

// This rank's shard equals the reference's tensor at the shard's global indices.
void check_params_match(const model::ParamBuffer& shard, const model::ParamBuffer& full, int step) {
  int mismatches = 0;
  for (int i = 0; i < shard.size(); ++i) {
    const model::ParamInfo& info = shard.info(i);
    const float* mine = shard.param(i).data<float>();
    // The last pipeline stage's tied output layer is a copy of the word embedding.
    const float* expected = full.param(info.shared ? "embedding.word_embeddings.weight" : info.key).data<float>();
    for (int64_t k = 0; k < info.local_numel(); ++k) {
      const float want = expected[info.global_index(k)];
      if (std::abs(mine[k] - want) > 2e-5f + 1e-4f * std::abs(want)) {
        if (mismatches++ < 5) FAIL_CHECK("step " << step << " " << info.key << "[" << k << "] " << mine[k] << " vs " << want);
      }
    }
  }
  CHECK(mismatches == 0);
}

void check_equivalence(const model::ModelConfig& base, const Layout& layout) {
  mpi();
  model::ModelConfig config = base;
  config.finalize(layout.tp);
  ProcessGroupOptions options;
  options.sizes.tp = layout.tp;
  options.sizes.pp = layout.pp;
  options.sequence_parallel = layout.sequence_parallel;
  options.tied_embeddings = !config.untie_embeddings;
  ProcessGroups groups(options);
  const model::ParallelContext context = groups.parallel_context();
  const int dp = groups.sizes().dp;
  REQUIRE(kGlobalBatch % dp == 0);
  INFO("tp " << layout.tp << " pp " << layout.pp << " dp " << dp << (layout.sequence_parallel ? " sp" : "")
             << (layout.distributed_optimizer ? " dist-opt" : "") << " rank " << groups.world_rank());

  DdpOptions ddp;
  ddp.use_distributed_optimizer = layout.distributed_optimizer;
  ddp.overlap_grad_reduce = layout.bucket_size.has_value();
  ddp.bucket_size = layout.bucket_size;
  ddp.dp_cp_size = dp;
  ddp.tied_embedding_own_bucket = layout.pp > 1 && !config.untie_embeddings;
  model::PipelineStage stage;
  if (layout.pp > 1) {
    const LayerRange range = pipeline_layer_range(config.num_layers, layout.pp, 1, groups.pp_rank(), 0);
    stage = {range.first, range.count, groups.is_first_pp_stage(), groups.is_last_pp_stage()};
  }
  model::GPTModel model(config, context, Device::CPU, ddp_buffer_layout(ddp), stage);
  if (layout.bucket_size && *layout.bucket_size < model.params().total_numel())
    CHECK(model.params().groups()[0].buckets.size() > 1);
  GradReducer reducer(model.params(), *groups.dp_cp.comm, layout.distributed_optimizer, config.num_layers);
  const bool overlap = ddp.overlap_grad_reduce;
  if (overlap) model.set_backward_hook([&](int part) { reducer.part_ready(part); });
  const std::function<void()> before_last_backward = [&] {
    if (overlap) reducer.start_overlap();
  };
  OptimizerOptions optimizer_options;
  optimizer_options.adam = kAdam;
  optimizer_options.clip_grad = kClip;
  optimizer_options.use_distributed_optimizer = layout.distributed_optimizer;
  comm::Communicator& grad_stats =
      layout.distributed_optimizer ? *groups.grad_stats.comm : *groups.model_parallel.comm;
  DistributedOptimizer optimizer(model.params(), *groups.dp_cp.comm, grad_stats, groups.tp_rank(), optimizer_options);

  model::ModelConfig single_config = base;
  single_config.finalize();
  Reference reference(single_config);
  check_params_match(model.params(), reference.params(), -1);  // identical initialisation (shard == slice)

  const int per_rank = kGlobalBatch / dp;
  for (int step = 0; step < kSteps; ++step) {
    const auto [expected_loss, expected_norm] = reference.train_step(step);
    const int first = groups.dp_rank() * per_rank;
    double loss = 0, tokens = 0;
    if (layout.pp > 1) {
      PipelineIteration iteration;
      iteration.num_microbatches = per_rank;
      int forwards = 0;  // every micro-batch's forward runs once: activations are stashed, not replayed
      iteration.microbatch = [&](int m) {
        ++forwards;
        return sequence(config, step, first + m);
      };
      iteration.activation_shape = pipeline_activation_shape(config, context, 1);
      iteration.before_last_backward = before_last_backward;
      model.zero_grads();
      const model::LossPair total = run_one_f_one_b(model, *groups.pp.comm, iteration);
      CHECK(forwards == per_rank);
      loss = total.loss_sum;
      tokens = total.num_tokens;
    } else {
      std::tie(loss, tokens) = forward_backward(model, step, first, per_rank, before_last_backward);
    }
    if (overlap) {
      reducer.finish();
      if (dp > 1) CHECK(reducer.launched_during_backward() > 0);
      if (layout.slices_reduced_separately)
        CHECK(reducer.slices_reduced_separately() == *layout.slices_reduced_separately);
    } else {
      reducer.reduce_gradients();
    }
    model.reduce_sequence_parallel_grads();
    all_reduce_embedding_grads(model.params(), groups.embedding.comm.get());
    optim::AdamStep adam_step = kStep;
    adam_step.step = step + 1;
    const double norm = optimizer.step(adam_step);
    // The logged loss: Σ loss / Σ tokens over the data-parallel group.
    Tensor totals = Tensor::empty({2});
    totals.data<float>()[0] = static_cast<float>(loss);
    totals.data<float>()[1] = static_cast<float>(tokens);
    groups.dp_cp.comm->all_reduce(totals);
    const double mean_loss = double(totals.data<float>()[0]) / totals.data<float>()[1];
    INFO("step " << step);
    if (groups.is_last_pp_stage()) CHECK(mean_loss == Approx(expected_loss).epsilon(1e-5));
    CHECK(norm == Approx(expected_norm).epsilon(1e-4));
    check_params_match(model.params(), reference.params(), step);
  }
}

}  // namespace

TEST_CASE("rank body: DP2", "[.][rank-dp2]") {
  check_equivalence(gpt2_config(), Layout{});
  Layout overlapped;
  overlapped.bucket_size = 20000;  // --overlap-grad-reduce: buckets all-reduced during backward
  check_equivalence(llama_config(), overlapped);
}

TEST_CASE("rank body: DP2 + distributed optimizer", "[.][rank-dp2-distopt]") {
  Layout layout;
  layout.distributed_optimizer = true;
  check_equivalence(gpt2_config(), layout);
  layout.bucket_size = 20000;  // several padded buckets
  check_equivalence(llama_config(), layout);
  // One bucket for the whole model: its first slice (output layer, final norm, layer 1) is final
  // before the embedding's gradient, so each rank's slice is reduced onto it on its own.
  layout.bucket_size = 1000000000;
  layout.slices_reduced_separately = 2;
  check_equivalence(gpt2_config(), layout);
}

TEST_CASE("rank body: DP4 + distributed optimizer, one bucket reduced by slice", "[.][rank-dp4-slices]") {
  Layout layout;
  layout.distributed_optimizer = true;
  layout.bucket_size = 1000000000;  // one bucket: its first three slices are final before the embedding
  layout.slices_reduced_separately = 4;
  check_equivalence(gpt2_config(), layout);
}

TEST_CASE("rank body: TP2", "[.][rank-tp2]") {
  Layout layout;
  layout.tp = 2;
  check_equivalence(gpt2_config(), layout);
  check_equivalence(llama_config(), layout);
}

TEST_CASE("rank body: TP2 + SP", "[.][rank-tp2-sp]") {
  Layout layout;
  layout.tp = 2;
  layout.sequence_parallel = true;
  check_equivalence(gpt2_config(), layout);
  check_equivalence(llama_config(), layout);
}

TEST_CASE("rank body: TP2 x DP2 + SP + distributed optimizer", "[.][rank-tp2-dp2]") {
  Layout layout;
  layout.tp = 2;
  layout.sequence_parallel = true;
  layout.distributed_optimizer = true;
  layout.bucket_size = 30000;
  check_equivalence(llama_config(), layout);
  layout.sequence_parallel = false;
  layout.distributed_optimizer = false;
  layout.bucket_size.reset();
  check_equivalence(gpt2_config(), layout);
}

TEST_CASE("rank body: PP2", "[.][rank-pp2]") {
  Layout layout;
  layout.pp = 2;
  check_equivalence(gpt2_config(), layout);  // tied: embedding group all-reduce, shared copy
  check_equivalence(llama_config(), layout);
}

TEST_CASE("rank body: PP2 x TP2 (SP) and PP2 x DP2 (distributed optimizer)", "[.][rank-pp2-4]") {
  Layout layout;
  layout.pp = 2;
  layout.tp = 2;
  layout.sequence_parallel = true;
  check_equivalence(llama_config(), layout);
  layout.tp = 1;
  layout.sequence_parallel = false;
  layout.distributed_optimizer = true;
  layout.bucket_size = 20000;
  check_equivalence(gpt2_config(), layout);
}

TEST_CASE("DP2 training equals single-rank training") { CHECK(run_on_ranks(2, "[rank-dp2]")); }
TEST_CASE("DP2 with the distributed optimizer equals single-rank training") {
  CHECK(run_on_ranks(2, "[rank-dp2-distopt]"));
}
TEST_CASE("TP2 training equals single-rank training (vocab-parallel embedding and loss, GQA, SwiGLU)") {
  CHECK(run_on_ranks(2, "[rank-tp2]"));
}
TEST_CASE("DP4 with the distributed optimizer reducing each slice onto its owner equals single-rank training") {
  CHECK(run_on_ranks(4, "[rank-dp4-slices]"));
}
TEST_CASE("TP2 with sequence parallelism equals single-rank training") { CHECK(run_on_ranks(2, "[rank-tp2-sp]")); }
TEST_CASE("TP2 x DP2 (SP, distributed optimizer) equals single-rank training") {
  CHECK(run_on_ranks(4, "[rank-tp2-dp2]"));
}
TEST_CASE("PP2 (1F1B) training equals single-rank training") { CHECK(run_on_ranks(2, "[rank-pp2]")); }
TEST_CASE("PP2 x TP2 and PP2 x DP2 training equal single-rank training") { CHECK(run_on_ranks(4, "[rank-pp2-4]")); }
