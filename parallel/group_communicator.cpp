#include "parallel/group_communicator.h"

#include "core/base/error.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"
#ifdef MCPP_HAVE_CUDA
#include "parallel/cuda/nccl_communicator.h"
#endif

namespace mcpp::parallel {

std::unique_ptr<comm::Communicator> make_group_communicator(Device device, MPI_Comm group, const std::string& name,
                                                            std::shared_ptr<Watchdog> watchdog) {
  check(group != MPI_COMM_NULL, "internal: a group communicator over MPI_COMM_NULL");
  if (device == Device::CPU) {
    MPI_Comm duplicate = MPI_COMM_NULL;
    check_mpi(MPI_Comm_dup(group, &duplicate), "MPI_Comm_dup");
    return std::make_unique<MpiCommunicator>(duplicate, name, std::move(watchdog));
  }
#ifdef MCPP_HAVE_CUDA
  return std::make_unique<NcclCommunicator>(group, name, std::move(watchdog));
#else
  throw Error("CUDA communicators need a build with the CUDA backend; this one is CPU-only (use --device cpu)");
#endif
}

}  // namespace mcpp::parallel
