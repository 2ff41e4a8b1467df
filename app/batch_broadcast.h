#pragma once
// Megatron's get_batch_on_this_tp_rank under mpirun: only tensor-parallel rank 0 reads the data
// (its loader prefetches from the dataset), and every micro-batch it reads is broadcast over the
// tensor-parallel group, so TP ranks train on the very same tokens without each reading them.
// End of data travels the same way: the other ranks learn it from the broadcast.
#include <mpi.h>

#include <optional>

#include "core/model/gpt_model.h"

namespace mcpp::app {

// `batch`: what TP rank 0 read (nullopt at the end of the split); ignored on the other ranks.
// Returns the micro-batch on every rank of `tp` (host tensors), or nullopt on every rank.
std::optional<model::MicroBatch> broadcast_micro_batch(std::optional<model::MicroBatch> batch, MPI_Comm tp);

}  // namespace mcpp::app
