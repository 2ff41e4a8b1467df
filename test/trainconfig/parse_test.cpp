#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "app/flags_registry.h"
#include "app/train_args.h"
#include "test/common/test_support.h"
#include "test/trainconfig/args_helpers.h"

using mcpp::app::FlagKind;
using mcpp::app::FlagState;
using mcpp::app::TrainArgs;
using mcpp::test::error_of;
using mcpp::test::parse;

namespace {

std::string unquote(std::string text) {
  if (text.size() >= 2 && text.front() == '\'' && text.back() == '\'') return text.substr(1, text.size() - 2);
  return text;
}

}  // namespace

TEST_CASE("defaults are Megatron's") {
  const TrainArgs a = parse("");
  CHECK_FALSE(a.model.num_layers);
  CHECK(a.model.num_query_groups == 1);
  CHECK(a.model.position_embedding_type == "learned_absolute");
  CHECK(a.model.rotary_base == 10000);
  CHECK(a.model.rotary_percent == 1.0);
  CHECK(a.model.normalization == "LayerNorm");
  CHECK(a.model.norm_epsilon == 1e-5);
  CHECK(a.model.add_bias_linear);
  CHECK_FALSE(a.model.untie_embeddings_and_output_weights);
  CHECK(a.model.make_vocab_size_divisible_by == 128);
  CHECK(a.model.attention_dropout == 0.1);
  CHECK(a.model.hidden_dropout == 0.1);
  CHECK(a.model.init_method_std == 0.02);
  CHECK(a.training.optimizer == "adam");
  CHECK(a.training.min_lr == 0.0);
  CHECK(a.training.lr_decay_style == "linear");
  CHECK(a.training.lr_wsd_decay_style == "exponential");
  CHECK(a.training.weight_decay == 0.01);
  CHECK(a.training.weight_decay_incr_style == "constant");
  CHECK(a.training.clip_grad == 1.0);
  CHECK(a.training.adam_beta1 == 0.9);
  CHECK(a.training.adam_beta2 == 0.999);
  CHECK(a.training.adam_eps == 1e-8);
  CHECK(a.training.sgd_momentum == 0.9);
  CHECK(a.training.seed == 1234);
  CHECK(a.training.check_for_nan_in_loss_and_grad);
  CHECK(a.precision.initial_loss_scale == 4294967296.0);
  CHECK(a.precision.min_loss_scale == 1.0);
  CHECK(a.precision.loss_scale_window == 1000);
  CHECK(a.precision.hysteresis == 2);
  CHECK(a.parallel.tensor_model_parallel_size == 1);
  CHECK(a.parallel.distributed_timeout_minutes == 10);
  CHECK(a.data.num_workers == 2);
  CHECK(a.checkpoint.ckpt_format == "torch_dist");
  CHECK(a.logging.log_interval == 100);
  CHECK(a.logging.eval_interval == 1000);  // ours; Megatron's is None
  CHECK(a.logging.eval_iters == 100);
  CHECK(a.logging.tensorboard_log_interval == 1);
}

TEST_CASE("every registry default matches the parsed default and every setter changes something") {
  const TrainArgs defaults = parse("");
  for (const auto& spec : mcpp::app::flag_registry()) {
    if (spec.state != FlagState::kImplemented) continue;
    INFO(spec.name);
    if (spec.kind == FlagKind::kStoreTrue || spec.kind == FlagKind::kStoreFalse) {
      CHECK_FALSE(parse(spec.name) == defaults);
      continue;
    }
    if (spec.name == "--config") continue;
    // Giving the default explicitly changes nothing (optional fields become set, so skip None).
    if (spec.default_text != "None" && spec.kind != FlagKind::kStringList) {
      CHECK(parse(spec.name + " " + unquote(spec.default_text)) == defaults);
    }
    // Some other valid value changes the result.
    std::string other = spec.choices.empty() ? "7" : spec.choices.back();
    if (!spec.choices.empty() && unquote(spec.default_text) == other) other = spec.choices.front();
    CHECK_FALSE(parse(spec.name + " " + other) == defaults);
  }
}

TEST_CASE("values: types, forms, lists and store_false spellings") {
  TrainArgs a = parse("--lr=3e-4 --min-lr 1e-5 --num-layers 12 --data-path 0.3 A 0.7 B --split 949,50,1 "
                      "--disable-bias-linear --no-check-for-nan-in-loss-and-grad --lr-warmup-init -1e-6");
  CHECK(*a.training.lr == 3e-4);
  CHECK(a.training.min_lr == 1e-5);
  CHECK(*a.model.num_layers == 12);
  CHECK(*a.data.data_path == std::vector<std::string>{"0.3", "A", "0.7", "B"});
  CHECK(*a.data.split == "949,50,1");
  CHECK_FALSE(a.model.add_bias_linear);
  CHECK_FALSE(a.training.check_for_nan_in_loss_and_grad);
  CHECK(a.training.lr_warmup_init == -1e-6);
  // Aliases set the same field.
  CHECK(parse("--override-opt-param-scheduler").training.override_opt_param_scheduler);
  CHECK(*parse("--persistent-save-interval 5").checkpoint.save_interval == 5);
  // The last occurrence wins, as with argparse.
  CHECK(*parse("--num-layers 2 --num-layers 3").model.num_layers == 3);
  // nargs='*' accepts an empty list.
  CHECK(parse("--data-path").data.data_path->empty());
}

TEST_CASE("bad command lines give one-line errors naming the flag") {
  CHECK(error_of([] { parse("--foo 1"); }) == "unknown flag --foo; see docs/flags.md");
  // No prefix abbreviations (argparse allow_abbrev=False).
  CHECK(error_of([] { parse("--num-lay 2"); }) == "unknown flag --num-lay; see docs/flags.md");
  CHECK(error_of([] { parse("--num-layers two"); }) == "--num-layers: expected an integer, got 'two'");
  CHECK(error_of([] { parse("--lr x"); }) == "--lr: expected a number, got 'x'");
  CHECK(error_of([] { parse("--lr"); }) == "--lr expects a value");
  CHECK(error_of([] { parse("--swiglu=1"); }) == "--swiglu takes no value");
  CHECK(error_of([] { parse("12"); }).find("unexpected argument '12'") == 0);
  CHECK(error_of([] { parse("--normalization BatchNorm"); }) ==
        "--normalization: invalid choice 'BatchNorm' (choose from LayerNorm, RMSNorm)");
  CHECK(error_of([] { parse("--num-experts 8"); }) ==
        "--num-experts is not supported: Mixture of Experts is not implemented yet; see docs/flags.md");
  CHECK(error_of([] { parse("--cp-comm-type"); }).find("--cp-comm-type") == 0);
  CHECK(error_of([] { parse("--rampup-batch-size 1 2 3"); }).find("--rampup-batch-size is not supported") == 0);
}

TEST_CASE("speed-only flags are accepted and noted once") {
  TrainArgs a = parse("--use-mcore-models --transformer-impl local --no-masked-softmax-fusion "
                      "--use-flash-attn --distributed-backend nccl --num-workers 8 --use-mcore-models");
  REQUIRE(a.no_effect_notes.size() == 6);  // the repeated flag is noted once
  CHECK(a.no_effect_notes.front().find("--use-mcore-models: ") == 0);
  CHECK(a.data.num_workers == 2);  // no effect means no effect
  TrainArgs plain = parse("");
  a.no_effect_notes.clear();
  CHECK(a == plain);
}

TEST_CASE("config files: keys without dashes, command line overrides, errors") {
  const auto dir = mcpp::test::scratch_dir("trainconfig-config");
  const auto path = (dir / "model.json").string();
  std::ofstream(path) << R"({"num-layers": 12, "hidden-size": 768, "swiglu": true, "untie-embeddings-and-output-weights": false,
    "data-path": ["a", "b"], "lr": 0.0003, "split": "98,2,0", "kv-channels": null, "transformer-impl": "local"})";
  TrainArgs a = parse("--config " + path + " --num-layers 6");
  CHECK(*a.model.num_layers == 6);  // the command line wins
  CHECK(*a.model.hidden_size == 768);
  CHECK(a.model.swiglu);
  CHECK_FALSE(a.model.untie_embeddings_and_output_weights);
  CHECK(*a.data.data_path == std::vector<std::string>{"a", "b"});
  CHECK(*a.training.lr == 0.0003);
  CHECK(*a.data.split == "98,2,0");
  CHECK_FALSE(a.model.kv_channels);
  CHECK(a.no_effect_notes.size() == 1);
  // Order on the command line does not matter: the config is always applied first.
  CHECK(*parse("--num-layers 6 --config " + path).model.num_layers == 6);

  auto write = [&](const std::string& name, const std::string& text) {
    const auto p = (dir / name).string();
    std::ofstream(p) << text;
    return p;
  };
  const auto unknown = write("unknown.json", R"({"num-layer": 2})");
  CHECK(error_of([&] { parse("--config " + unknown); }) ==
        "--config " + unknown + ": unknown flag --num-layer; see docs/flags.md");
  const auto bad_switch = write("switch.json", R"({"swiglu": 1})");
  CHECK(error_of([&] { parse("--config " + bad_switch); }) ==
        "--config " + bad_switch + ": \"swiglu\": expected true or false");
  const auto bad_json = write("bad.json", R"({"num-layers": )");
  CHECK(error_of([&] { parse("--config " + bad_json); }).find("--config " + bad_json + ": not valid JSON") == 0);
  const auto not_object = write("list.json", "[1]");
  CHECK(error_of([&] { parse("--config " + not_object); }).find("expected a JSON object") != std::string::npos);
  const auto rejected = write("moe.json", R"({"num-experts": 8})");
  CHECK(error_of([&] { parse("--config " + rejected); }).find("--num-experts is not supported") != std::string::npos);
  CHECK(error_of([] { parse("--config nonexistent-preset"); }).find("--config nonexistent-preset: no preset") == 0);
  CHECK(error_of([&] { parse("--config " + (dir / "missing.json").string()); }).find("file not found") !=
        std::string::npos);
}

TEST_CASE("presets load by name and validate") {
  for (const char* name : {"gpt2-124m", "gpt2-350m", "tinyllama-1.1b", "llama3-8b", "bench-llama-0.9b"}) {
    INFO(name);
    TrainArgs a = parse(std::string("--config ") + name + " --micro-batch-size 1 --train-iters 10 --lr 1e-4");
    mcpp::app::validate_train_args(a, 1);
    CHECK(a.derived.padded_vocab_size > 0);
  }
  TrainArgs gpt2 = parse("--config gpt2-124m --micro-batch-size 1 --dry-run");
  mcpp::app::validate_train_args(gpt2, 1);
  CHECK(gpt2.derived.padded_vocab_size == 50304);
  CHECK(gpt2.derived.ffn_hidden_size == 3072);
  TrainArgs llama = parse("--config llama3-8b --micro-batch-size 1 --dry-run");
  mcpp::app::validate_train_args(llama, 1);
  CHECK(llama.derived.use_rope);
  CHECK(llama.derived.num_query_groups == 8);
  CHECK(llama.model.rotary_base == 500000);
  CHECK(llama.derived.padded_vocab_size == 128256);
}
