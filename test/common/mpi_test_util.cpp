#include "test/common/mpi_test_util.h"

#include <filesystem>
#include <iostream>

namespace mcpp::parallel::testing {

MpiRuntime& mpi() {
  static MpiRuntime runtime;
  return runtime;
}

namespace {
std::string self() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

bool succeeded(const mcpp::test::RunResult& result) {
  if (result.exit_code != 0) std::cout << result.output << std::endl;
  return result.exit_code == 0;
}
}  // namespace

mcpp::test::RunResult launch_without_launcher(const std::string& tag, const std::string& environment) {
  return mcpp::test::run(environment + " OMP_NUM_THREADS=1 '" + self() + "' '" + tag + "' --warn NoTests 2>&1");
}

mcpp::test::RunResult launch_on_ranks(int ranks, const std::string& tag, const std::string& environment) {
  // One thread per rank: CI has two cores for all ranks together.
  return mcpp::test::run(environment +
                         " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
                         "OMPI_MCA_btl_vader_single_copy_mechanism=none "
                         "mpirun --oversubscribe --bind-to none -np " +
                         std::to_string(ranks) + " '" + self() + "' '" + tag + "' --warn NoTests 2>&1");
}

bool run_without_launcher(const std::string& tag) { return succeeded(launch_without_launcher(tag)); }

bool run_on_ranks(int ranks, const std::string& tag) { return succeeded(launch_on_ranks(ranks, tag)); }

}  // namespace mcpp::parallel::testing
