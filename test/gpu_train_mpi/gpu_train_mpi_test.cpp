// megatron-train on 2 GPUs under mpirun (NCCL) against the 1-GPU run of the same model and data:
// data parallelism (plain, distributed optimizer with overlapped reduction and overlapped
// parameter gathers, gradients reduced in bf16, SGD, fp16 with loss scaling), tensor parallelism (with and without sequence
// parallelism) and pipeline parallelism (1F1B, uneven split, interleaved), per-iteration losses
// within bf16 tolerance; overlapped parameter gathers give the very losses of gathering in the
// step, and deterministic resumes at PP2 and at DP2 with the distributed optimizer are bit-exact.
// Needs a machine with at least 2 GPUs
// (scripts/gpu-check.sh runs it there only).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "test/common/gpu_train_support.h"
#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;
using namespace mcpp::test;

namespace {

constexpr int kIterations = kGpuIterations;

void check_layout(const std::string& name, const std::string& base, const std::string& layout,
                  const std::string& precision = "--bf16") {
  check_layout_on_gpus(2, name, base, layout, precision);
}

}  // namespace

TEST_CASE("DP2 on two GPUs trains like one GPU (plain, and distributed optimizer with overlap)") {
  check_layout("dp2", tiny_gpt2_flags(), "");
  check_layout("dp2-distopt", tiny_llama_flags(), "--use-distributed-optimizer --overlap-grad-reduce");
}

TEST_CASE("DP2 on two GPUs with gradients reduced in bf16 trains like one GPU") {
  check_layout("dp2-grad-bf16", tiny_llama_flags(), "--use-distributed-optimizer --overlap-grad-reduce --grad-reduce-in-bf16");
  check_layout("dp2-grad-bf16-allreduce", tiny_gpt2_flags(), "--overlap-grad-reduce --grad-reduce-in-bf16");
}

TEST_CASE("fp16 under mpirun on two GPUs trains like one GPU (DP2 + distributed optimizer, overflow skips)") {
  // 2^23 overflows fp16 in the first backwards: the runs skip those steps (no loss logged) and
  // halve the scale (hysteresis 1) until it fits, then train; the found-inf flag is reduced over
  // the DP group. As in Megatron, each DP2 rank runs half the micro-batches, so its backward is
  // scaled by 1 / (tokens x 1) instead of 1 / (tokens x 2): at half the loss scale its fp16
  // gradients are the very values of the 1-GPU run, so it must skip exactly the same steps.
  const fs::path dir = scratch_dir("gpu-train-mpi-dp2-fp16");
  auto train = [&](int ranks, const std::string& name, const std::string& extra, double initial_scale) {
    const fs::path metrics = dir / (name + ".jsonl");
    fs::remove(metrics);
    const std::string fp16 = "--fp16 --initial-loss-scale " + std::to_string(int64_t(initial_scale)) +
                             " --hysteresis 1 --loss-scale-window 5";
    train_on_gpus_raw(ranks, gpu_flags(tiny_llama_flags(), metrics, fp16) + extra);
    return metrics_losses_and_scales(metrics);
  };
  const double scale = 8388608.0;  // 2^23
  const auto one = train(1, "one", "", scale);
  const auto two = train(2, "two", " --use-distributed-optimizer --overlap-grad-reduce", scale / 2);
  REQUIRE(one.size() == size_t(kIterations));
  REQUIRE(two.size() == size_t(kIterations));
  int skipped = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("iteration " << i + 1);
    REQUIRE(one[i].first.has_value() == two[i].first.has_value());
    CHECK(two[i].second == one[i].second / 2);
    if (!one[i].first) {
      ++skipped;
      continue;
    }
    CHECK(std::abs(*two[i].first - *one[i].first) / *one[i].first < 2e-2);
  }
  CHECK(skipped > 0);                // the overflow path ran
  CHECK(skipped < kIterations - 2);  // and training went on after it
  WARN("dp2-fp16: " << skipped << " of " << kIterations << " steps skipped in both runs");
}

TEST_CASE("DP2 on two GPUs with overlapped parameter gathers trains like one GPU, bit-identical to gathering "
          "in the step") {
  // Several buckets, so the gathers and reductions really are per bucket.
  const std::string layout = "--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 20000";
  check_layout("dp2-overlap-param-gather", tiny_llama_flags(), layout + " --overlap-param-gather");
  const fs::path dir = scratch_dir("gpu-train-mpi-dp2-param-gather-exact");
  const std::string deterministic = " --deterministic-mode " + layout;
  const auto in_step =
      train_on_gpus(2, gpu_flags(tiny_llama_flags(), dir / "step.jsonl", "--bf16") + deterministic, dir / "step.jsonl");
  const auto overlapped = train_on_gpus(
      2, gpu_flags(tiny_llama_flags(), dir / "overlap.jsonl", "--bf16") + deterministic + " --overlap-param-gather",
      dir / "overlap.jsonl");
  REQUIRE(in_step.size() == kIterations);
  REQUIRE(overlapped.size() == kIterations);
  for (size_t i = 0; i < in_step.size(); ++i) CHECK(overlapped[i] == in_step[i]);  // bit-exact
}

TEST_CASE("TP2 on two GPUs trains like one GPU (vocab-parallel loss, and with sequence parallelism)") {
  check_layout("tp2", tiny_gpt2_flags(), "--tensor-model-parallel-size 2");
  check_layout("tp2-sp", tiny_llama_flags(), "--tensor-model-parallel-size 2 --sequence-parallel");
}

TEST_CASE("PP2 on two GPUs trains like one GPU (1F1B with tied embeddings, and an uneven 1 + 3 split)") {
  check_layout("pp2", tiny_gpt2_flags(), "--pipeline-model-parallel-size 2");
  // Four micro-batches per iteration: warm-up, steady exchanges both ways, cool-down.
  check_layout("pp2-uneven", tiny_llama_flags() + " --num-layers 4 --global-batch-size 8",
               "--pipeline-model-parallel-size 2 --decoder-first-pipeline-num-layers 1");
}

TEST_CASE("PP2 interleaved on two GPUs trains like one GPU (2 chunks per rank)") {
  // 4 micro-batches: steady steps send an activation and a gradient to the one neighbour in one
  // NCCL group; 5 in groups of 3: a shorter last group.
  check_layout("pp2-vp", tiny_gpt2_flags() + " --num-layers 4 --global-batch-size 8",
               "--pipeline-model-parallel-size 2 --num-layers-per-virtual-pipeline-stage 1");
  check_layout("pp2-vp-groups", tiny_gpt2_flags() + " --num-layers 4 --global-batch-size 10",
               "--pipeline-model-parallel-size 2 --num-layers-per-virtual-pipeline-stage 1 "
               "--microbatch-group-size-per-virtual-pipeline-stage 3");
}

TEST_CASE("SGD under mpirun on two GPUs trains like one GPU (DP2 with the distributed optimizer, and PP2)") {
  const std::string sgd = tiny_gpt2_flags() + " --optimizer sgd --sgd-momentum 0.9";
  check_layout("dp2-sgd", sgd, "--use-distributed-optimizer");
  check_layout("pp2-sgd", sgd, "--pipeline-model-parallel-size 2");
}

namespace {

// Ten iterations straight, and five + five resumed from the checkpoint at iteration 5, both on 2
// GPUs with `layout` and --deterministic-mode: the losses must be the very same.
void check_resume_is_bit_exact(const std::string& name, const std::string& layout) {
  const fs::path dir = scratch_dir("gpu-train-mpi-resume-" + name);
  fs::remove_all(dir / "straight");
  fs::remove_all(dir / "resumed");
  auto flags = [&](const std::string& metrics) {
    return gpu_flags(tiny_gpt2_flags(), dir / metrics, "--bf16") + " " + layout +
           " --deterministic-mode --save-interval 5";
  };
  const auto straight =
      train_on_gpus(2, flags("straight.jsonl") + " --save " + (dir / "straight").string(), dir / "straight.jsonl");
  const auto first = train_on_gpus(2, flags("first.jsonl") + " --exit-interval 5 --save " + (dir / "resumed").string(),
                                   dir / "first.jsonl");
  const auto second = train_on_gpus(2, flags("second.jsonl") + " --load " + (dir / "resumed").string(),
                                    dir / "second.jsonl");
  REQUIRE(straight.size() == kIterations);
  REQUIRE(first.size() == 5);
  REQUIRE(second.size() == kIterations - 5);
  for (size_t i = 0; i < first.size(); ++i) {
    INFO(name << " iteration " << i + 1);
    CHECK(first[i] == straight[i]);  // bit-exact: the same run repeated
  }
  for (size_t i = 0; i < second.size(); ++i) {
    INFO(name << " iteration " << i + 6);
    CHECK(second[i] == straight[i + 5]);  // bit-exact: resumed from iteration 5
  }
}

}  // namespace

TEST_CASE("PP2 on two GPUs resumes bit-exactly with --deterministic-mode") {
  check_resume_is_bit_exact("pp2", "--pipeline-model-parallel-size 2");
}

TEST_CASE("DP2 with the distributed optimizer on two GPUs resumes bit-exactly with --deterministic-mode") {
  // The step gathers bf16 parameters, so each rank's fp32 parameters are current only in its own
  // slices: the checkpoint must gather them first, or the resumed run would start from stale ones.
  check_resume_is_bit_exact("dp2-distopt", "--use-distributed-optimizer --overlap-grad-reduce --overlap-param-gather");
}
