#include "mpi_test_util.h"

#include <filesystem>
#include <iostream>

#include "test/common/test_support.h"

namespace mcpp::parallel::testing {

MpiRuntime& mpi() {
  static MpiRuntime runtime;
  return runtime;
}

namespace {
std::string self() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

bool succeeded(const std::string& command) {
  const mcpp::test::RunResult result = mcpp::test::run(command);
  if (result.exit_code != 0) std::cout << command << "\n" << result.output << std::endl;
  return result.exit_code == 0;
}
}  // namespace

bool run_without_launcher(const std::string& tag) {
  return succeeded("OMP_NUM_THREADS=1 '" + self() + "' '" + tag + "' --warn NoTests 2>&1");
}

bool run_on_ranks(int ranks, const std::string& tag) {
  // One thread per rank: CI has two cores for all ranks together.
  const std::string command =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none "
      "mpirun --oversubscribe --bind-to none -np " + std::to_string(ranks) + " '" + self() + "' '" + tag + "' --warn NoTests 2>&1";
  return succeeded(command);
}

}  // namespace mcpp::parallel::testing
