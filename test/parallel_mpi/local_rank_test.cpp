// Node-local rank for device selection: the launcher's variables in their order of precedence,
// MPI's shared-memory split when neither is set, and local rank -> device.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

#include "core/base/error.h"
#include "parallel/local_rank.h"
#include "test/common/mpi_test_util.h"
#include "test/common/test_support.h"

using namespace mcpp;
using namespace mcpp::parallel;
using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::run_on_ranks;

namespace {

constexpr const char* kOpenMpi = "OMPI_COMM_WORLD_LOCAL_RANK";
constexpr const char* kSlurm = "SLURM_LOCALID";

std::optional<std::string> get(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

// Both launcher variables set (or unset) for one scope.
struct LauncherEnvironment {
  mcpp::test::ScopedEnvironment open_mpi, slurm;
  LauncherEnvironment(std::optional<std::string> open_mpi_value, std::optional<std::string> slurm_value)
      : open_mpi(kOpenMpi, std::move(open_mpi_value)), slurm(kSlurm, std::move(slurm_value)) {}
};

}  // namespace

TEST_CASE("the launcher's local rank: Open MPI first, then Slurm") {
  {
    LauncherEnvironment none(std::nullopt, std::nullopt);
    CHECK_FALSE(launcher_local_rank().has_value());
  }
  {
    LauncherEnvironment open_mpi("3", std::nullopt);
    CHECK(launcher_local_rank() == 3);
  }
  {
    LauncherEnvironment slurm(std::nullopt, "5");
    CHECK(launcher_local_rank() == 5);
  }
  {
    LauncherEnvironment both("1", "6");
    CHECK(launcher_local_rank() == 1);
  }
  {
    LauncherEnvironment empty("", "2");  // an empty variable counts as unset
    CHECK(launcher_local_rank() == 2);
  }
  for (const char* bad : {"x", "-1", "2a"}) {
    INFO(bad);
    LauncherEnvironment invalid(bad, std::nullopt);
    CHECK_THROWS_WITH(launcher_local_rank(), Catch::Contains(kOpenMpi) && Catch::Contains(bad));
  }
  {
    LauncherEnvironment invalid(std::nullopt, "node0");
    CHECK_THROWS_WITH(launcher_local_rank(), Catch::Contains(kSlurm));
  }
}

TEST_CASE("a rank's device is its local rank modulo the device count") {
  CHECK(device_for_local_rank(0, 8) == 0);
  CHECK(device_for_local_rank(7, 8) == 7);
  CHECK(device_for_local_rank(5, 4) == 1);
  CHECK(device_for_local_rank(3, 1) == 0);
  CHECK_THROWS_WITH(device_for_local_rank(0, 0), Catch::Contains("no CUDA device"));
}

TEST_CASE("rank body: node-local rank", "[.][rank-local]") {
  const int world_rank = mpi().rank();
  // mpirun sets Open MPI's variable: on one node it equals the world rank.
  const std::optional<std::string> from_mpirun = get(kOpenMpi);
  REQUIRE(from_mpirun.has_value());
  CHECK(std::stoi(*from_mpirun) == world_rank);
  CHECK(node_local_rank(MPI_COMM_WORLD) == world_rank);
  CHECK(mpi().local_rank() == world_rank);
  {
    // Slurm's numbering when Open MPI's is absent: each rank reports another value.
    LauncherEnvironment slurm(std::nullopt, std::to_string(10 + world_rank));
    CHECK(node_local_rank(MPI_COMM_WORLD) == 10 + world_rank);
  }
  {
    // Without launcher variables: the rank's position among the ranks sharing its node.
    LauncherEnvironment none(std::nullopt, std::nullopt);
    CHECK(node_local_rank(MPI_COMM_WORLD) == world_rank);
  }
}

TEST_CASE("node-local ranks at 3 ranks on one node, with and without launcher variables") {
  CHECK(run_on_ranks(3, "[rank-local]"));
}
