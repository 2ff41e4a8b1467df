#pragma once
// Which GPU a rank drives. Launchers start one process per GPU and say which process of the node
// each one is; the device is that node-local rank modulo the node's device count.
#include <mpi.h>

#include <optional>

namespace mcpp::parallel {

// The node-local rank the launcher reports: OMPI_COMM_WORLD_LOCAL_RANK (Open MPI's mpirun), else
// SLURM_LOCALID (srun); nothing when neither is set. Throws naming the variable when it is set
// but not a non-negative integer.
std::optional<int> launcher_local_rank();

// The variable launcher_local_rank() read ("OMPI_COMM_WORLD_LOCAL_RANK" or "SLURM_LOCALID"), or
// nullptr when neither is set and the rank's place on its node decides.
const char* launcher_local_rank_variable();

// launcher_local_rank(), else this rank's position among the ranks of `world` that share its node
// (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), ordered by world rank). Collective over `world`.
int node_local_rank(MPI_Comm world);

// local_rank % device_count; throws when there is no device.
int device_for_local_rank(int local_rank, int device_count);

}  // namespace mcpp::parallel
