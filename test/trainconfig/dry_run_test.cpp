#include <catch2/catch.hpp>

#include "app/dry_run.h"
#include "test/trainconfig/args_helpers.h"

using mcpp::app::estimate_model_budget;
using mcpp::app::TrainArgs;
using mcpp::test::parse;

namespace {

TrainArgs preset(const std::string& name, const std::string& extra = "", int64_t world = 1) {
  TrainArgs a = parse("--config " + name + " --micro-batch-size 1 --dry-run " + extra);
  mcpp::app::validate_train_args(a, world);
  return a;
}

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace

TEST_CASE("parameter counts of known models") {
  // GPT-2 small with Megatron's padded vocabulary 50304, tied output, learned positions.
  CHECK(estimate_model_budget(preset("gpt2-124m"), "cuda").parameters == 124475904);
  // TinyLlama 1.1B and Llama 3 8B as published (vocab 32000 / 128256 need no padding).
  CHECK(estimate_model_budget(preset("tinyllama-1.1b"), "cuda").parameters == 1100048384);
  CHECK(estimate_model_budget(preset("llama3-8b"), "cuda").parameters == 8030261248);
  // Untying GPT-2 adds one more 50304 x 768 table; biases off removes 4 per-layer bias vectors.
  const auto untied = estimate_model_budget(preset("gpt2-124m", "--untie-embeddings-and-output-weights"), "cuda");
  CHECK(untied.parameters == 124475904 + 50304 * 768);
  const auto no_bias = estimate_model_budget(preset("gpt2-124m", "--disable-bias-linear"), "cuda");
  CHECK(no_bias.parameters == 124475904 - 12 * (3 * 768 + 768 + 3072 + 768));
}

TEST_CASE("FLOPs follow Megatron's num_floating_point_operations") {
  // 12*s*L*h^2*((1 + g/a + s/(2h))*(a*d/h) + ffn/h*(3/2 if swiglu) + V/(2*L*h)), evaluated by hand.
  CHECK(mcpp::app::megatron_flops(preset("gpt2-124m"), 1) == Approx(817184636928.0).epsilon(1e-12));
  CHECK(mcpp::app::megatron_flops(preset("llama3-8b"), 1) == Approx(421645529382912.0).epsilon(1e-12));
  const TrainArgs gpt2 = preset("gpt2-124m", "--global-batch-size 8");
  const auto budget = estimate_model_budget(gpt2, "cuda");
  CHECK(budget.flops_per_token == Approx(817184636928.0 / 1024));
  CHECK(budget.flops_per_iteration == Approx(8 * 817184636928.0));
}

TEST_CASE("memory estimate follows the parallel layout") {
  const auto fp32 = estimate_model_budget(preset("gpt2-124m"), "cpu");
  CHECK(fp32.bytes_per_parameter == 16.0);
  CHECK(fp32.parameters_per_gpu == fp32.parameters);
  CHECK(fp32.state_bytes_per_gpu == 16.0 * fp32.parameters);
  const auto bf16 = estimate_model_budget(preset("gpt2-124m", "--bf16"), "cuda");
  CHECK(bf16.bytes_per_parameter == 18.0);  // fp32 main 4 + bf16 copy 2 + fp32 grad 4 + Adam 8
  // bf16 on CPU still computes (and stores) fp32.
  CHECK(estimate_model_budget(preset("gpt2-124m", "--bf16"), "cpu").bytes_per_parameter == 16.0);
  const auto sharded = estimate_model_budget(preset("gpt2-124m", "--bf16 --use-distributed-optimizer", 4), "cuda");
  CHECK(sharded.bytes_per_parameter == 10.0 + 8.0 / 4);  // only the Adam moments are sharded
  CHECK(estimate_model_budget(preset("gpt2-124m", "--use-distributed-optimizer", 2), "cpu")
            .bytes_per_parameter == 8.0 + 8.0 / 2);
  // Tensor parallelism shards layer weights and the vocabulary; pipeline stages hold fewer layers.
  const auto tp2 = estimate_model_budget(preset("llama3-8b", "--bf16 --tensor-model-parallel-size 2", 2), "cuda");
  const auto one = estimate_model_budget(preset("llama3-8b", "--bf16"), "cuda");
  CHECK(tp2.parameters_per_gpu < one.parameters_per_gpu * 0.51);
  CHECK(tp2.parameters_per_gpu > one.parameters_per_gpu * 0.49);
  const auto pp4 = estimate_model_budget(
      preset("llama3-8b", "--bf16 --pipeline-model-parallel-size 4 --global-batch-size 8", 4), "cuda");
  CHECK(pp4.parameters_per_gpu < one.parameters_per_gpu / 3);
  CHECK(pp4.microbatches_in_flight == 4);
  // Full recompute keeps far fewer activations than none.
  const auto full = estimate_model_budget(
      preset("llama3-8b", "--bf16 --recompute-granularity full --recompute-method uniform --recompute-num-layers 32"),
      "cuda");
  CHECK(full.activation_bytes_per_gpu < one.activation_bytes_per_gpu / 4);
  // Llama 3 8B, bf16, one GPU, mbs 1: ~140 GiB of weights/grads/Adam state alone.
  CHECK(one.state_bytes_per_gpu / kGiB == Approx(8030261248.0 * 18 / kGiB));
  CHECK(one.total_bytes_per_gpu == one.state_bytes_per_gpu + one.activation_bytes_per_gpu);
  const std::string text = mcpp::app::format_model_budget(preset("gpt2-124m"), fp32);
  CHECK(text.find("parameters: 124475904") == 0);
  CHECK(text.find("padded vocabulary: 50304") != std::string::npos);
}

TEST_CASE("the budget needs a known vocabulary") {
  TrainArgs a = parse(std::string(mcpp::test::kTinyModel));
  a.model.vocab_size.reset();
  mcpp::app::validate_train_args(a, 1);
  CHECK(mcpp::test::error_of([&] { estimate_model_budget(a, "cpu"); }) ==
        "the vocabulary size is unknown: pass --vocab-size (or a tokenizer) to size the model");
}
