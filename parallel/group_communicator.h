#pragma once
// The communicator for one process group's tensors on a device: MPI for host tensors, NCCL for
// CUDA tensors (CUDA builds only).
#include <mpi.h>

#include <memory>
#include <string>

#include "core/base/tensor.h"
#include "core/comm/communicator.h"
#include "parallel/watchdog.h"

namespace mcpp::parallel {

// Collective over `group` (every member calls it). `group` stays the caller's: the MPI
// communicator works on a duplicate of it, the NCCL one uses it only to bootstrap. `name` (tp,
// dp, ...) names the group in watchdog messages.
std::unique_ptr<comm::Communicator> make_group_communicator(Device device, MPI_Comm group, const std::string& name,
                                                            std::shared_ptr<Watchdog> watchdog = nullptr);

}  // namespace mcpp::parallel
