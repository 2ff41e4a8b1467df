#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "checkpoint/checkpoint_reader.h"
#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;
using namespace mcpp::test;

namespace {

// Every tensor of the latest checkpoint in `dir`, as fp32 values.
std::map<std::string, std::vector<float>> checkpoint_tensors(const fs::path& dir) {
  const auto reader = mcpp::ckpt::CheckpointReader::open(dir);
  std::map<std::string, std::vector<float>> tensors;
  for (const auto& info : reader.tensors()) {
    int64_t count = 1;
    for (int64_t d : info.global_shape) count *= d;
    std::vector<float> values(count);
    reader.read_whole(info.key, mcpp::ckpt::DType::kFloat32, values.data());
    tensors[info.key] = std::move(values);
  }
  return tensors;
}

}  // namespace

TEST_CASE("a 2-layer GPT-2 style model's loss falls on the fortunes text") {
  const fs::path dir = scratch_dir("train-falls");
  const fs::path metrics = dir / "metrics.jsonl";
  const std::string output = train_or_fail(tiny_gpt2_flags() + " --train-iters 40 --metrics-file " + metrics.string());
  const std::vector<double> losses = metrics_losses(metrics);
  REQUIRE(losses.size() == 40);
  // A fresh model predicts roughly uniformly over the padded vocabulary (ln 50304 = 10.83).
  CHECK(losses.front() == Approx(10.83).margin(0.3));
  double last = 0;
  for (size_t i = losses.size() - 5; i < losses.size(); ++i) last += losses[i] / 5;
  CHECK(last < losses.front() - 2.0);
  // Megatron's log line and the end-of-training evaluation are printed.
  CHECK(output.find("iteration       40/      40 | consumed samples:          160 |") != std::string::npos);
  CHECK(output.find("validation loss at iteration 40 on validation set") != std::string::npos);
  CHECK(output.find("validation loss at iteration 40 on test set") != std::string::npos);
}

TEST_CASE("a Llama-style model (RMSNorm, SwiGLU, RoPE, GQA, untied) trains") {
  const fs::path dir = scratch_dir("train-llama");
  const fs::path metrics = dir / "metrics.jsonl";
  train_or_fail(tiny_llama_flags() + " --train-iters 30 --metrics-file " + metrics.string());
  const std::vector<double> losses = metrics_losses(metrics);
  REQUIRE(losses.size() == 30);
  CHECK(losses.back() < losses.front() - 1.5);
}

TEST_CASE("resume: N iterations equal N/2, save, a new process loading, and N/2 more") {
  const fs::path dir = scratch_dir("train-resume");
  // Dropout stays on (Megatron's default 0.1) so the RNG state is part of what must resume.
  const std::string flags = tiny_gpt2_flags() + " --train-iters 8 --save-interval 4 --eval-interval 4";
  train_or_fail(flags + " --save " + (dir / "straight").string() + " --metrics-file " +
                (dir / "straight.jsonl").string());
  train_or_fail(flags + " --exit-interval 4 --save " + (dir / "resumed").string() + " --metrics-file " +
                (dir / "first.jsonl").string());
  CHECK(mcpp::test::read_file(dir / "resumed" / "latest_checkpointed_iteration.txt") == "4");
  train_or_fail(flags + " --load " + (dir / "resumed").string() + " --save " + (dir / "resumed").string() +
                " --metrics-file " + (dir / "second.jsonl").string());

  const std::vector<double> straight = metrics_losses(dir / "straight.jsonl");
  std::vector<double> resumed = metrics_losses(dir / "first.jsonl");
  for (double loss : metrics_losses(dir / "second.jsonl")) resumed.push_back(loss);
  REQUIRE(straight.size() == 8);
  REQUIRE(resumed == straight);  // bit-exact on CPU

  const auto a = checkpoint_tensors(dir / "straight");
  const auto b = checkpoint_tensors(dir / "resumed");
  REQUIRE(a.size() == b.size());
  CHECK(a.count("optimizer.exp_avg.decoder.layers.1.mlp.linear_fc2.weight") == 1);
  for (const auto& [key, values] : a) {
    INFO(key);
    REQUIRE(b.count(key) == 1);
    CHECK(values == b.at(key));
  }
}

TEST_CASE("full and selective recompute train exactly like no recompute") {
  const fs::path dir = scratch_dir("train-recompute");
  const std::string flags = tiny_llama_flags() + " --train-iters 4";
  train_or_fail(flags + " --metrics-file " + (dir / "none.jsonl").string());
  train_or_fail(flags + " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1"
                        " --metrics-file " + (dir / "full.jsonl").string());
  train_or_fail(flags + " --recompute-granularity selective --metrics-file " + (dir / "selective.jsonl").string());
  const auto none = metrics_losses(dir / "none.jsonl");
  CHECK(metrics_losses(dir / "full.jsonl") == none);
  CHECK(metrics_losses(dir / "selective.jsonl") == none);
}

TEST_CASE("gradient accumulation: 2 micro-batches of 2 equal 1 micro-batch of 4 without dropout") {
  const fs::path dir = scratch_dir("train-accumulate");
  const std::string flags = tiny_gpt2_flags() + " --train-iters 3 --attention-dropout 0 --hidden-dropout 0";
  train_or_fail(flags + " --metrics-file " + (dir / "mb2.jsonl").string());
  train_or_fail(flags + " --micro-batch-size 4 --metrics-file " + (dir / "mb4.jsonl").string());
  const auto two = metrics_losses(dir / "mb2.jsonl");
  const auto four = metrics_losses(dir / "mb4.jsonl");
  REQUIRE(two.size() == four.size());
  for (size_t i = 0; i < two.size(); ++i) CHECK(two[i] == Approx(four[i]).epsilon(1e-5));
}

TEST_CASE("finetune loads weights only and restarts the iteration count") {
  const fs::path dir = scratch_dir("train-finetune");
  const std::string flags = tiny_gpt2_flags() + " --train-iters 2 --save-interval 2";
  train_or_fail(flags + " --save " + (dir / "base").string());
  const std::string output = train_or_fail(flags + " --load " + (dir / "base").string() + " --finetune");
  CHECK(output.find("iteration        2/       2 | consumed samples:            8 |") != std::string::npos);
}

TEST_CASE("TensorBoard events, eval lines and the metrics file are written") {
  const fs::path dir = scratch_dir("train-outputs");
  const std::string output = train_or_fail(tiny_gpt2_flags() + " --train-iters 4 --eval-interval 2 --tensorboard-dir " +
                                           (dir / "tb").string() + " --metrics-file " + (dir / "m.jsonl").string());
  CHECK(output.find("validation loss at iteration 2 |") != std::string::npos);
  CHECK(output.find("validation loss at iteration 4 |") != std::string::npos);
  int events = 0;
  for (const auto& entry : fs::directory_iterator(dir / "tb")) {
    events += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  }
  CHECK(events == 1);
  CHECK(metrics_losses(dir / "m.jsonl").size() == 4);
}

TEST_CASE("megatron-train rejects bad flags and checkpoints with one-line errors") {
  const fs::path dir = scratch_dir("train-errors");
  auto expect_error = [](const std::string& flags, const std::string& text) {
    const RunResult result = run(program("megatron-train").string() + " " + flags);
    INFO(result.output);
    CHECK(result.exit_code != 0);
    CHECK(result.output.find(text) != std::string::npos);
  };
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --num-attention-heads 5", "--num-attention-heads");
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --global-batch-size 5", "--global-batch-size");
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --no-such-flag", "unknown flag --no-such-flag");
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --tensor-model-parallel-size 2", "tensor-model-parallel");
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --data-path " + (dir / "missing").string(), "missing");

  // A checkpoint of another architecture is refused with the flag named.
  train_or_fail(tiny_gpt2_flags() + " --train-iters 1 --save-interval 1 --save " + (dir / "ck").string());
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --num-layers 3 --load " + (dir / "ck").string(), "--num-layers");
  // A Megatron torch_dist checkpoint is refused.
  fs::create_directories(dir / "megatron" / "iter_0000010");
  std::ofstream(dir / "megatron" / "latest_checkpointed_iteration.txt") << "10";
  std::ofstream(dir / "megatron" / "iter_0000010" / "common.pt") << "x";
  std::ofstream(dir / "megatron" / "iter_0000010" / ".metadata") << "x";
  expect_error(tiny_gpt2_flags() + " --train-iters 2 --load " + (dir / "megatron").string(), "torch_dist");
}

TEST_CASE("dry-run prints parameters and FLOPs without training") {
  const RunResult result = run(program("megatron-train").string() +
                               " --config gpt2-124m --micro-batch-size 8 --train-iters 10 --lr 1e-4 --dry-run");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("parameters: 124475904 ") != std::string::npos);
}

TEST_CASE("document masking flags reach the model: reset attention mask, positions and EOD loss mask") {
  const fs::path dir = scratch_dir("train-docmask");
  const std::string flags = tiny_gpt2_flags() + " --train-iters 3 --attention-dropout 0 --hidden-dropout 0";
  train_or_fail(flags + " --metrics-file " + (dir / "plain.jsonl").string());
  train_or_fail(flags + " --reset-attention-mask --metrics-file " + (dir / "mask.jsonl").string());
  train_or_fail(flags + " --reset-attention-mask --reset-position-ids --eod-mask-loss --metrics-file " +
                (dir / "all.jsonl").string());
  const auto plain = metrics_losses(dir / "plain.jsonl");
  const auto mask = metrics_losses(dir / "mask.jsonl");
  const auto all = metrics_losses(dir / "all.jsonl");
  REQUIRE(plain.size() == 3);
  // Fortunes are short, so 32-token samples cross documents and every flag changes the loss.
  CHECK(mask[0] != plain[0]);
  CHECK(all[0] != mask[0]);
}

TEST_CASE("exit-duration-in-mins 0 saves and stops after the first iteration") {
  const fs::path dir = scratch_dir("train-duration");
  const std::string output = train_or_fail(tiny_gpt2_flags() + " --train-iters 50 --exit-duration-in-mins 0"
                                           " --save-interval 50 --save " + (dir / "ck").string());
  CHECK(output.find("--exit-duration-in-mins") != std::string::npos);
  CHECK(mcpp::test::read_file(dir / "ck" / "latest_checkpointed_iteration.txt") == "1");
}

TEST_CASE("exit-signal-handler: SIGTERM saves a checkpoint and exits cleanly") {
  const fs::path dir = scratch_dir("train-signal");
  const fs::path log = dir / "log.txt";
  // Start a long run in the background, wait for its first log line, then send SIGTERM.
  const std::string command =
      mcpp::test::program("megatron-train").string() + " " + tiny_gpt2_flags() +
      " --train-iters 100000 --exit-signal-handler --save-interval 100000 --save " + (dir / "ck").string() +
      " > " + log.string() + " 2>&1 & pid=$!; "
      "for i in $(seq 600); do grep -q 'iteration ' " + log.string() + " && break; sleep 0.1; done; "
      "kill -TERM $pid; wait $pid; echo exit=$?";
  const RunResult result = run(command);
  INFO(result.output << mcpp::test::read_file(log));
  CHECK(result.output.find("exit=0") != std::string::npos);
  CHECK(mcpp::test::read_file(log).find("SIGTERM") != std::string::npos);
  CHECK(fs::exists(dir / "ck" / "latest_checkpointed_iteration.txt"));
}
