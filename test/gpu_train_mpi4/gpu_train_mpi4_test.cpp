// megatron-train on 4 GPUs under mpirun (NCCL) against the 1-GPU run of the same model and data,
// per-iteration losses within bf16 tolerance: DP4 with the distributed optimizer and both
// overlaps, TP4, TP2 x DP2 with sequence parallelism and the distributed optimizer, PP2 x DP2 with
// tied embeddings, TP2 x PP2, PP4 (1F1B and interleaved), and a checkpoint saved at TP2 x PP2 that
// continues at DP4. Every run uses a global batch of 8 (4 micro-batches of 2 on one GPU). Needs a
// machine with at least 4 GPUs (scripts/gpu-check.sh runs it there only).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "test/common/gpu_train_support.h"
#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;
using namespace mcpp::test;

namespace {

std::string gpt2_flags(int layers) {
  return tiny_gpt2_flags() + " --num-layers " + std::to_string(layers) + " --global-batch-size 8";
}
std::string llama_flags() { return tiny_llama_flags() + " --global-batch-size 8"; }

}  // namespace

TEST_CASE("DP4 on four GPUs trains like one GPU (distributed optimizer, overlapped reduce and gathers)") {
  check_layout_on_gpus(4, "dp4", gpt2_flags(2), "");
  check_layout_on_gpus(4, "dp4-distopt", llama_flags(),
                       "--use-distributed-optimizer --overlap-grad-reduce --overlap-param-gather "
                       "--ddp-bucket-size 20000");
}

TEST_CASE("TP4, and TP2 x DP2 with sequence parallelism, on four GPUs train like one GPU") {
  check_layout_on_gpus(4, "tp4", gpt2_flags(2), "--tensor-model-parallel-size 4");
  check_layout_on_gpus(4, "tp2-dp2-sp", llama_flags(),
                       "--tensor-model-parallel-size 2 --sequence-parallel --use-distributed-optimizer "
                       "--overlap-grad-reduce");
}

TEST_CASE("PP2 x DP2 (tied embeddings) and TP2 x PP2 on four GPUs train like one GPU") {
  check_layout_on_gpus(4, "pp2-dp2", gpt2_flags(4),
                       "--pipeline-model-parallel-size 2 --use-distributed-optimizer --overlap-grad-reduce");
  check_layout_on_gpus(4, "tp2-pp2", gpt2_flags(4), "--tensor-model-parallel-size 2 --pipeline-model-parallel-size 2");
}

TEST_CASE("PP4 on four GPUs trains like one GPU (1F1B, and interleaved with 2 chunks per rank)") {
  check_layout_on_gpus(4, "pp4", gpt2_flags(4), "--pipeline-model-parallel-size 4");
  check_layout_on_gpus(4, "pp4-vp", gpt2_flags(8),
                       "--pipeline-model-parallel-size 4 --num-layers-per-virtual-pipeline-stage 1");
}

TEST_CASE("A checkpoint saved at TP2 x PP2 on four GPUs continues at DP4 like the 1-GPU run") {
  const fs::path dir = scratch_dir("gpu-train-mpi4-relayout");
  fs::remove_all(dir / "checkpoint");
  const std::string base = gpt2_flags(4);
  const auto straight = train_on_gpus(1, gpu_flags(base, dir / "straight.jsonl", "--bf16"), dir / "straight.jsonl");
  const std::string save = " --tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 --exit-interval 5 --save-interval 5 --save " +
                           (dir / "checkpoint").string();
  const auto first = train_on_gpus(4, gpu_flags(base, dir / "first.jsonl", "--bf16") + save, dir / "first.jsonl");
  const std::string load = " --use-distributed-optimizer --overlap-grad-reduce --load " + (dir / "checkpoint").string();
  const auto second = train_on_gpus(4, gpu_flags(base, dir / "second.jsonl", "--bf16") + load, dir / "second.jsonl");
  REQUIRE(straight.size() == size_t(kGpuIterations));
  REQUIRE(first.size() == 5);
  REQUIRE(second.size() == size_t(kGpuIterations - 5));
  double worst = 0;
  for (size_t i = 0; i < first.size(); ++i) worst = std::max(worst, std::abs(first[i] - straight[i]) / straight[i]);
  for (size_t i = 0; i < second.size(); ++i)
    worst = std::max(worst, std::abs(second[i] - straight[i + 5]) / straight[i + 5]);
  CHECK(worst < 2e-2);
  WARN("TP2xPP2 -> DP4 resume: largest relative loss difference against 1 GPU = " << worst);
}
