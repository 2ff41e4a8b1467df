// megatron-train on the GPU against the CPU reference run of the same model, data and seed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/optim/loss_scaler.h"
#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;
using mcpp::test::metrics_losses;
using mcpp::test::metrics_losses_and_scales;
using mcpp::test::scratch_dir;
using mcpp::test::tiny_gpt2_flags;
using mcpp::test::tiny_llama_flags;
using mcpp::test::train_or_fail;

namespace {

// The tiny models' flags with the device switched to the GPU.
std::string on_gpu(std::string flags) {
  const std::string cpu = "--device cpu";
  const size_t at = flags.find(cpu);
  REQUIRE(at != std::string::npos);
  return flags.replace(at, cpu.size(), "--device cuda");
}

std::vector<double> train_losses(const std::string& flags, const fs::path& metrics) {
  train_or_fail(flags + " --metrics-file " + metrics.string());
  return metrics_losses(metrics);
}

// Largest |gpu − cpu| / cpu over the iterations.
double max_relative_difference(const std::vector<double>& cpu, const std::vector<double>& gpu) {
  REQUIRE(cpu.size() == gpu.size());
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) worst = std::max(worst, std::abs(gpu[i] - cpu[i]) / std::abs(cpu[i]));
  return worst;
}

void compare_with_cpu(const std::string& name, const std::string& flags, const std::string& gpu_extra,
                      double tolerance) {
  const fs::path dir = scratch_dir("gpu-train-" + name);
  const auto cpu = train_losses(flags, dir / "cpu.jsonl");
  const auto gpu = train_losses(on_gpu(flags) + gpu_extra, dir / "gpu.jsonl");
  REQUIRE(cpu.size() == 20);
  const double worst = max_relative_difference(cpu, gpu);
  INFO(name << ": largest relative loss difference over 20 iterations " << worst);
  CHECK(worst < tolerance);
  CHECK(gpu.back() < gpu.front() - 0.5);  // and it learns
  WARN(name << ": largest relative loss difference GPU vs CPU = " << worst);
}

}  // namespace

// Dropout stays on: its masks are the same Philox draws on both devices.
TEST_CASE("fp32 on the GPU follows the CPU run for 20 iterations (GPT-2 and Llama style)") {
  compare_with_cpu("gpt2-fp32", tiny_gpt2_flags() + " --train-iters 20", "", 1e-3);
  compare_with_cpu("llama-fp32", tiny_llama_flags() + " --train-iters 20", "", 1e-3);
}

TEST_CASE("bf16 on the GPU follows the fp32 CPU run within bf16 tolerance for 20 iterations") {
  compare_with_cpu("gpt2-bf16", tiny_gpt2_flags() + " --train-iters 20 --bf16", "", 3e-2);
  compare_with_cpu("llama-bf16", tiny_llama_flags() + " --train-iters 20 --bf16", "", 3e-2);
}

// Megatron's fp16: fp16 layers over fp32 main parameters and gradients, dynamic loss scaling. A
// scale of 4096 keeps every fp16 gradient finite here, so no step is skipped and the losses can
// be compared with the plain fp32 CPU run iteration by iteration.
TEST_CASE("fp16 on the GPU follows the fp32 CPU run within fp16 tolerance for 20 iterations") {
  const std::string fp16 = " --fp16 --initial-loss-scale 4096";
  compare_with_cpu("gpt2-fp16", tiny_gpt2_flags() + " --train-iters 20", fp16, 1e-2);
  compare_with_cpu("llama-fp16", tiny_llama_flags() + " --train-iters 20", fp16, 1e-2);
}

// 2^40 overflows the fp16 gradients (the scaled loss gradient alone exceeds 65504): those steps
// are skipped (no loss logged, nothing updated) and, with --hysteresis 1, each halves the scale
// until training starts; --loss-scale-window 5 then doubles it after every 5 clean steps, which
// overflows again. The logged scales must be what the CPU's scaler (optim::LossScaler, which the
// CPU fp16 run uses) gives for this run's overflow pattern, and every skip must be reported.
TEST_CASE("fp16 overflow on the GPU skips steps and moves the loss scale as Megatron's scaler does") {
  const fs::path dir = scratch_dir("gpu-train-fp16-overflow");
  const int iterations = 40;
  mcpp::optim::LossScalerConfig config;
  config.initial_scale = 1099511627776.0;  // 2^40
  config.hysteresis = 1;
  config.growth_interval = 5;
  const std::string output = train_or_fail(
      on_gpu(tiny_gpt2_flags()) + " --fp16 --initial-loss-scale 1099511627776 --hysteresis 1 --loss-scale-window 5" +
      " --train-iters " + std::to_string(iterations) + " --metrics-file " + (dir / "gpu.jsonl").string());
  const auto lines = metrics_losses_and_scales(dir / "gpu.jsonl");
  REQUIRE(lines.size() == size_t(iterations));

  std::vector<int> reported_skips;
  const std::regex skipped_field(R"(number of skipped iterations:\s+(\d+))");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), skipped_field); it != std::sregex_iterator(); ++it) {
    reported_skips.push_back(std::stoi((*it)[1].str()));
  }
  REQUIRE(reported_skips.size() == size_t(iterations));

  mcpp::optim::LossScaler scaler(config);
  std::vector<double> trained;
  for (int i = 0; i < iterations; ++i) {
    INFO("iteration " << i + 1);
    const bool skipped = !lines[i].first.has_value();
    scaler.update(skipped);
    CHECK(lines[i].second == scaler.scale());
    CHECK(reported_skips[i] == (skipped ? 1 : 0));
    if (!skipped) trained.push_back(*lines[i].first);
  }
  CHECK_FALSE(lines.front().first.has_value());  // 2^40 overflows at once
  REQUIRE(trained.size() >= 10);                  // and training started
  for (double loss : trained) CHECK(std::isfinite(loss));  // skipped steps applied no Inf/NaN
  CHECK(trained.back() < trained.front() - 0.3);
  WARN("fp16 overflow run: " << iterations - int(trained.size()) << " of " << iterations
                             << " steps skipped, final loss scale " << lines.back().second);
}

TEST_CASE("bf16 GPT-2 with cuDNN attention reading the fused QKV output in place follows the fp32 CPU run") {
  // Sequence 128 and no attention dropout make the attention eligible for cuDNN, which then reads
  // q, k, v straight from the QKV projection (multi-head, no RoPE).
  std::string flags = tiny_gpt2_flags();
  const std::string seq = "--seq-length 32 --max-position-embeddings 32";
  const size_t at = flags.find(seq);
  REQUIRE(at != std::string::npos);
  flags.replace(at, seq.size(), "--seq-length 128 --max-position-embeddings 128");
  compare_with_cpu("gpt2-bf16-fused-qkv", flags + " --attention-dropout 0 --train-iters 20 --bf16", "", 3e-2);
}

TEST_CASE("bf16 GPU runs repeat bit-exactly, and a resume with --deterministic-mode is bit-exact") {
  const fs::path dir = scratch_dir("gpu-train-resume");
  const std::string flags =
      on_gpu(tiny_llama_flags()) + " --bf16 --deterministic-mode --train-iters 12 --save-interval 6 --eval-interval 6";
  const auto straight = train_losses(flags + " --save " + (dir / "straight").string(), dir / "straight.jsonl");
  const auto again = train_losses(flags, dir / "again.jsonl");
  REQUIRE(straight.size() == 12);
  CHECK(again == straight);
  auto resumed = train_losses(flags + " --exit-interval 6 --save " + (dir / "resumed").string(), dir / "first.jsonl");
  const auto second = train_losses(flags + " --load " + (dir / "resumed").string(), dir / "second.jsonl");
  resumed.insert(resumed.end(), second.begin(), second.end());
  CHECK(resumed == straight);
}

// Recompute re-runs the same kernels on the same inputs (dropout masks are Philox draws by
// element index and step), so with deterministic kernels the losses are bit-identical.
TEST_CASE("full and selective recompute on the GPU train bit-exactly like no recompute, full with less memory") {
  const fs::path dir = scratch_dir("gpu-train-recompute");
  const std::string flags = on_gpu(tiny_llama_flags()) + " --bf16 --deterministic-mode --train-iters 6";
  const auto plain = train_losses(flags, dir / "plain.jsonl");
  const auto full = train_losses(
      flags + " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1", dir / "full.jsonl");
  const auto block = train_losses(
      flags + " --recompute-granularity full --recompute-method block --recompute-num-layers 1", dir / "block.jsonl");
  const auto selective = train_losses(flags + " --recompute-granularity selective", dir / "selective.jsonl");
  REQUIRE(plain.size() == 6);
  CHECK(full == plain);
  CHECK(block == plain);
  CHECK(selective == plain);

  // Peak memory of GPT-2 124M at micro-batch 8: full recompute keeps only each layer's input.
  const std::string gpt2 =
      "--config gpt2-124m --device cuda --bf16 --mock-data --micro-batch-size 8 --global-batch-size 8 "
      "--eval-iters 0 --attention-dropout 0 --hidden-dropout 0 --lr 1e-4 --train-iters 2 --log-interval 2";
  auto peak_gb = [](const std::string& output) {
    std::smatch match;
    REQUIRE(std::regex_search(output, match, std::regex(R"(mem \(GB\): ([0-9.]+))")));
    return std::stod(match[1].str());
  };
  const double kept = peak_gb(train_or_fail(gpt2));
  const double recomputed =
      peak_gb(train_or_fail(gpt2 + " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1"));
  INFO("peak without recompute " << kept << " GB, with full recompute " << recomputed << " GB");
  CHECK(recomputed < 0.8 * kept);
  WARN("GPT-2 124M mb8 peak memory: " << kept << " GB without recompute, " << recomputed << " GB with full");
}

TEST_CASE("a GPU run saves a checkpoint the CPU loads and continues") {
  const fs::path dir = scratch_dir("gpu-train-cross-device");
  const std::string flags = tiny_gpt2_flags() + " --train-iters 8 --attention-dropout 0 --hidden-dropout 0";
  train_or_fail(on_gpu(flags) + " --exit-interval 4 --save-interval 4 --save " + (dir / "ckpt").string());
  const auto cpu_continued = train_losses(flags + " --load " + (dir / "ckpt").string(), dir / "cpu.jsonl");
  const auto gpu_continued = train_losses(on_gpu(flags) + " --load " + (dir / "ckpt").string(), dir / "gpu.jsonl");
  REQUIRE(cpu_continued.size() == 4);
  CHECK(max_relative_difference(cpu_continued, gpu_continued) < 1e-3);
}

// The --dry-run estimate (app/dry_run.cpp) against the caching allocator's peak of a real run.
TEST_CASE("the dry-run memory estimate is within 10% of the measured peak (GPT-2 124M, bf16)") {
  const std::string flags =
      "--config gpt2-124m --device cuda --bf16 --mock-data --micro-batch-size 16 --global-batch-size 16 "
      "--eval-iters 0 --attention-dropout 0 --hidden-dropout 0 --lr 1e-4 --train-iters 3 --log-interval 3";
  const std::string estimate = train_or_fail(flags + " --dry-run");
  std::smatch match;
  REQUIRE(std::regex_search(estimate, match, std::regex(R"(memory per GPU \(estimate\): ([0-9.]+) GiB)")));
  const double estimated_gb = std::stod(match[1].str()) * 1073741824.0 / 1e9;
  const std::string run = train_or_fail(flags);
  REQUIRE(std::regex_search(run, match, std::regex(R"(mem \(GB\): ([0-9.]+))")));
  const double measured_gb = std::stod(match[1].str());
  INFO("estimated " << estimated_gb << " GB, measured peak " << measured_gb << " GB");
  CHECK(std::abs(estimated_gb - measured_gb) <= 0.10 * measured_gb);
  WARN("dry-run estimate " << estimated_gb << " GB vs measured peak " << measured_gb << " GB");
}
