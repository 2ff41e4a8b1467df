#include "parallel/local_rank.h"

#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::parallel {

namespace {
std::optional<int> env_local_rank(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  check(*end == '\0' && parsed >= 0 && parsed <= 1 << 30,
        std::string(name) + "='" + value + "' is not a node-local rank (a non-negative integer); fix the launcher "
                            "environment");
  return static_cast<int>(parsed);
}

// Launchers' node-local rank variables, in order of preference: mpirun's, then srun's.
constexpr const char* kLocalRankVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"};
}  // namespace

const char* launcher_local_rank_variable() {
  for (const char* name : kLocalRankVariables) {
    if (env_local_rank(name)) return name;
  }
  return nullptr;
}

std::optional<int> launcher_local_rank() {
  const char* name = launcher_local_rank_variable();
  if (name == nullptr) return std::nullopt;
  return env_local_rank(name);
}

int node_local_rank(MPI_Comm world) {
  // Collective in every case, so ranks whose launcher variables differ still match up.
  int world_rank = 0, shared_rank = 0;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  MPI_Comm_rank(node, &shared_rank);
  MPI_Comm_free(&node);
  return launcher_local_rank().value_or(shared_rank);
}

int device_for_local_rank(int local_rank, int device_count) {
  check(device_count > 0, "no CUDA device is visible to rank with node-local rank " + std::to_string(local_rank) +
                              "; check CUDA_VISIBLE_DEVICES or run with --device cpu");
  check(local_rank >= 0, "internal: negative node-local rank");
  return local_rank % device_count;
}

}  // namespace mcpp::parallel
