#pragma once
// Multi-rank tests: a visible TEST_CASE (what ctest runs) launches this same test binary under
// `mpirun -np N` with the tag of a hidden TEST_CASE, which then runs once per rank. A rank's
// failed CHECK makes its process, and so mpirun and the launching test, fail.
#include <string>

#include "parallel/mpi_runtime.h"
#include "test/common/test_support.h"

namespace mcpp::parallel::testing {

// MPI for the rank bodies: initialised on first use, finalised at exit.
MpiRuntime& mpi();

// Runs the hidden test cases tagged `tag` (e.g. "[mpi-groups]") on `ranks` processes and
// returns true when every rank passed; the ranks' output is printed on failure.
bool run_on_ranks(int ranks, const std::string& tag);

// Runs them in one plain process, without any launcher (MPI's singleton start).
bool run_without_launcher(const std::string& tag);

// The same launches returning the exit status and output instead of judging them (tests of
// failing runs); `environment` ("NAME=value ...") is set for every rank.
mcpp::test::RunResult launch_on_ranks(int ranks, const std::string& tag, const std::string& environment = "");
mcpp::test::RunResult launch_without_launcher(const std::string& tag, const std::string& environment = "");

}  // namespace mcpp::parallel::testing
