#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <set>

#include "app/flags_registry.h"
#include "test/common/test_support.h"

// docs/flags.md is generated from the registry; regenerate it with
// MCPP_UPDATE_FLAGS_DOC=1 build/tests/test_trainconfig "docs/flags.md matches the flag registry"
TEST_CASE("docs/flags.md matches the flag registry") {
  const auto path = mcpp::test::source_dir() / "docs" / "flags.md";
  const std::string expected = mcpp::app::flags_markdown();
  if (const char* update = std::getenv("MCPP_UPDATE_FLAGS_DOC"); update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << expected;
  }
  REQUIRE(std::filesystem::exists(path));
  CHECK(mcpp::test::read_file(path) == expected);
}

TEST_CASE("registry is well formed") {
  std::set<std::string> names;
  for (const auto& spec : mcpp::app::flag_registry()) {
    INFO(spec.name);
    CHECK(spec.name.rfind("--", 0) == 0);
    CHECK(names.insert(spec.name).second);  // no duplicates
    CHECK(mcpp::app::find_flag(spec.name) == &spec);
    if (spec.state == mcpp::app::FlagState::kImplemented) {
      CHECK(spec.set != nullptr);
    } else {
      CHECK(spec.set == nullptr);
      CHECK_FALSE(spec.note.empty());  // the reason shown to the user
    }
  }
  // The flags that must work now.
  for (const char* name :
       {"--num-layers", "--hidden-size", "--ffn-hidden-size", "--num-attention-heads", "--group-query-attention",
        "--num-query-groups", "--kv-channels", "--seq-length", "--max-position-embeddings",
        "--position-embedding-type", "--use-rotary-position-embeddings", "--rotary-base", "--rotary-percent",
        "--normalization", "--norm-epsilon", "--swiglu", "--disable-bias-linear",
        "--untie-embeddings-and-output-weights", "--make-vocab-size-divisible-by", "--vocab-size",
        "--attention-dropout", "--hidden-dropout", "--init-method-std", "--micro-batch-size", "--global-batch-size",
        "--train-iters", "--train-samples", "--lr", "--min-lr", "--lr-decay-style", "--lr-warmup-iters",
        "--lr-warmup-fraction", "--lr-warmup-samples", "--lr-warmup-init", "--lr-decay-iters", "--lr-decay-samples",
        "--lr-wsd-decay-style", "--lr-wsd-decay-iters", "--weight-decay", "--start-weight-decay",
        "--end-weight-decay", "--weight-decay-incr-style", "--clip-grad", "--adam-beta1", "--adam-beta2",
        "--adam-eps", "--sgd-momentum", "--optimizer", "--seed", "--recompute-activations",
        "--recompute-granularity", "--recompute-method", "--recompute-num-layers", "--calculate-per-token-loss",
        "--deterministic-mode", "--bf16", "--fp16", "--loss-scale", "--initial-loss-scale", "--min-loss-scale",
        "--loss-scale-window", "--hysteresis", "--tensor-model-parallel-size", "--pipeline-model-parallel-size",
        "--context-parallel-size", "--expert-model-parallel-size", "--sequence-parallel",
        "--use-distributed-optimizer", "--overlap-grad-reduce", "--overlap-param-gather", "--ddp-bucket-size",
        "--num-layers-per-virtual-pipeline-stage", "--num-virtual-stages-per-pipeline-rank",
        "--microbatch-group-size-per-virtual-pipeline-stage", "--no-overlap-p2p-communication",
        "--decoder-first-pipeline-num-layers",
        "--decoder-last-pipeline-num-layers", "--use-tp-pp-dp-mapping", "--distributed-timeout-minutes",
        "--data-path", "--split", "--train-data-path", "--valid-data-path", "--test-data-path", "--data-cache-path",
        "--mock-data", "--reset-position-ids", "--reset-attention-mask", "--eod-mask-loss", "--tokenizer-type",
        "--tokenizer-model", "--vocab-file", "--merge-file", "--null-tokenizer-eod-id", "--eval-interval",
        "--eval-iters", "--log-interval", "--log-throughput", "--tensorboard-dir", "--tensorboard-log-interval",
        "--metrics-file", "--save", "--load", "--save-interval", "--no-save-optim", "--no-save-rng",
        "--no-load-optim", "--no-load-rng", "--finetune", "--exit-interval", "--exit-duration-in-mins",
        "--exit-signal-handler", "--ckpt-format", "--config", "--device", "--dry-run"}) {
    INFO(name);
    const auto* spec = mcpp::app::find_flag(name);
    REQUIRE(spec != nullptr);
    CHECK(spec->state == mcpp::app::FlagState::kImplemented);
  }
  for (const char* name : {"--use-mcore-models", "--transformer-impl", "--no-masked-softmax-fusion",
                           "--no-bias-gelu-fusion", "--no-bias-swiglu-fusion", "--no-bias-dropout-fusion",
                           "--no-rope-fusion", "--attention-softmax-in-fp32", "--distributed-backend",
                           "--use-flash-attn", "--no-gradient-accumulation-fusion", "--num-workers"}) {
    INFO(name);
    REQUIRE(mcpp::app::find_flag(name) != nullptr);
    CHECK(mcpp::app::find_flag(name)->state == mcpp::app::FlagState::kNoEffect);
  }
}
