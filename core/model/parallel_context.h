#pragma once
// What a layer needs to know about parallelism. Layers are written for their LOCAL shard; with
// tp_size = 1 and a single-rank communicator every collective below is the identity, so the
// single-GPU model is just the degenerate case of the tensor-parallel one.
#include "core/comm/communicator.h"

namespace mcpp::model {

struct ParallelContext {
  int tp_rank = 0;
  int tp_size = 1;
  // The tensor-parallel group's communicator (all-reduce after row-parallel layers, vocab-parallel
  // embedding and loss). Never null: use SingleRankCommunicator for tp = 1.
  comm::Communicator* tp_comm = nullptr;
  // --sequence-parallel: activations outside the linear layers are split along the sequence
  // (ignored when tp_size = 1, as Megatron does).
  bool sequence_parallel = false;
  // Placeholders until pipeline / context / expert parallelism lands.
  int pp_rank = 0, pp_size = 1;
  int cp_rank = 0, cp_size = 1;
  int ep_rank = 0, ep_size = 1;

  // A context for one process without model parallelism.
  static ParallelContext single(comm::Communicator& comm) {
    ParallelContext context;
    context.tp_comm = &comm;
    return context;
  }
};

}  // namespace mcpp::model
