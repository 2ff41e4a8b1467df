#pragma once
// MPI start-up and shut-down for one process (RAII). Launched by mpirun or srun, the process
// joins the job's world; started alone it initialises MPI as a singleton world of one rank, so
// `megatron-train` runs without any launcher. Threads: MPI_THREAD_FUNNELED (only the main
// thread talks to MPI; data-loader threads never do).
#include <mpi.h>

namespace mcpp::parallel {

class MpiRuntime {
 public:
  // Initialises MPI unless something else already did (then this object does not finalize).
  MpiRuntime();
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank among the processes of this node (device selection), as node_local_rank() (local_rank.h).
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  MPI_Comm world() const { return MPI_COMM_WORLD; }

 private:
  bool owns_mpi_ = false;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// Throws mcpp::Error with MPI's message when `code` is not MPI_SUCCESS.
void check_mpi(int code, const char* what);

}  // namespace mcpp::parallel
