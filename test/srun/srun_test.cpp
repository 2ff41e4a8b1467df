// megatron-train launched by SLURM's srun (Open MPI direct launch over PMIx), on a private
// one-node cluster (local_slurm.sh): each rank takes its node-local rank from SLURM_LOCALID, and
// parallel layouts train exactly like one process, as under mpirun.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;
using namespace mcpp::test;

namespace {

// Starts the cluster in `dir` and stops it when it goes out of scope.
class LocalSlurm {
 public:
  explicit LocalSlurm(const fs::path& dir) : dir_(dir) {
    // Ports from the process id, so concurrent test processes do not collide.
    const int port = 20000 + static_cast<int>(getpid() % 10000) * 2;
    const RunResult started = run("bash " + script() + " start " + dir_.string() + " " + std::to_string(port));
    INFO(started.output);
    REQUIRE(started.exit_code == 0);
    conf_ = started.output.substr(0, started.output.find_last_not_of("\n") + 1);
    conf_ = conf_.substr(conf_.find_last_of('\n') + 1);  // the last line is SLURM_CONF
  }
  ~LocalSlurm() { run("bash " + script() + " stop " + dir_.string()); }
  LocalSlurm(const LocalSlurm&) = delete;
  LocalSlurm& operator=(const LocalSlurm&) = delete;

  // Runs megatron-train as `ranks` tasks of one srun job step; returns its output.
  std::string srun(int ranks, const std::string& flags) const {
    const std::string command = "SLURM_CONF=" + conf_ +
                                " OMP_NUM_THREADS=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
                                "MCPP_LOG_LEVEL=debug timeout 300 srun --mpi=pmix --kill-on-bad-exit=1 -n " +
                                std::to_string(ranks) + " " + program("megatron-train").string() + " " + flags +
                                " 2>&1";
    const RunResult result = run(command);
    INFO(command);
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    return result.output;
  }

 private:
  static std::string script() { return (source_dir() / "test/srun/local_slurm.sh").string(); }
  fs::path dir_;
  std::string conf_;
};

constexpr int kIterations = 4;

std::string equivalence_flags(const fs::path& metrics) {
  return tiny_gpt2_flags() + " --make-vocab-size-divisible-by 64 --attention-dropout 0 --hidden-dropout 0 "
         "--train-iters " + std::to_string(kIterations) + " --metrics-file " + metrics.string();
}

}  // namespace

TEST_CASE("srun --mpi=pmix: ranks take SLURM_LOCALID, DP2 and TP2 x PP2 train like one process") {
  if (geteuid() != 0) {
    WARN("SKIPPED: the private SLURM cluster needs root");
    return;
  }
  const fs::path dir = scratch_dir("srun");
  const fs::path one = dir / "one.jsonl", dp2 = dir / "dp2.jsonl", tp2pp2 = dir / "tp2pp2.jsonl";
  train_or_fail(equivalence_flags(one));
  const std::vector<double> expected = metrics_losses(one);
  REQUIRE(expected.size() == kIterations);

  LocalSlurm slurm(dir / "slurm");
  const std::string dp2_output = slurm.srun(2, equivalence_flags(dp2) + " --use-distributed-optimizer");
  for (int rank = 0; rank < 2; ++rank) {
    const std::string line = "rank " + std::to_string(rank) + " of 2: node-local rank " + std::to_string(rank) +
                             " of 2 (from SLURM_LOCALID)";
    INFO(dp2_output);
    CHECK(dp2_output.find(line) != std::string::npos);
  }
  check_losses_close(metrics_losses(dp2), expected, 1e-5);

  slurm.srun(4, equivalence_flags(tp2pp2) +
                    " --tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 --sequence-parallel");
  check_losses_close(metrics_losses(tp2pp2), expected, 1e-5);
}
