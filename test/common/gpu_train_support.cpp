#include "test/common/gpu_train_support.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;

namespace mcpp::test {

std::string gpu_flags(const std::string& base, const fs::path& metrics, const std::string& precision) {
  std::string flags = base;
  const std::string cpu = "--device cpu";
  flags.replace(flags.find(cpu), cpu.size(), "--device cuda");
  return flags + " " + precision + " --make-vocab-size-divisible-by 64 --attention-dropout 0 --hidden-dropout 0 "
                 "--train-iters " + std::to_string(kGpuIterations) + " --metrics-file " + metrics.string();
}

void train_on_gpus_raw(int ranks, const std::string& flags) {
  const std::string command =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0 mpirun --oversubscribe "
      "--bind-to none -np " + std::to_string(ranks) + " " + program("megatron-train").string() + " " + flags + " 2>&1";
  const RunResult result = run(command);
  INFO(command);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
}

std::vector<double> train_on_gpus(int ranks, const std::string& flags, const fs::path& metrics) {
  fs::remove(metrics);
  train_on_gpus_raw(ranks, flags);
  return metrics_losses(metrics);
}

double check_layout_on_gpus(int ranks, const std::string& name, const std::string& base, const std::string& layout,
                            const std::string& precision) {
  const fs::path dir = scratch_dir("gpu-train-mpi-" + name);
  const auto one = train_on_gpus(1, gpu_flags(base, dir / "one.jsonl", precision), dir / "one.jsonl");
  const auto many =
      train_on_gpus(ranks, gpu_flags(base, dir / "many.jsonl", precision) + " " + layout, dir / "many.jsonl");
  REQUIRE(one.size() == size_t(kGpuIterations));
  REQUIRE(many.size() == size_t(kGpuIterations));
  double worst = 0;
  for (size_t i = 0; i < one.size(); ++i) worst = std::max(worst, std::abs(many[i] - one[i]) / one[i]);
  INFO(name << ": largest relative loss difference, " << ranks << " GPUs vs 1: " << worst);
  CHECK(worst < 2e-2);
  WARN(name << ": largest relative loss difference, " << ranks << " GPUs vs 1 = " << worst);
  return worst;
}

}  // namespace mcpp::test
