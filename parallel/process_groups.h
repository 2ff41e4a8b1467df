#pragma once
// This rank's process groups (compat §4.2), built from the RankGenerator over the world
// communicator. Every rank takes part in the creation of every group, in the same order: one
// MPI_Comm_split per group kind, colour = index of the group that holds the rank, key = the
// rank's position in that group's member list (so group rank i is member i, as in Megatron).
//
// Every group has a host (MPI) communicator; built for CUDA, each also gets an NCCL communicator
// for device tensors. All of them report to one watchdog (--distributed-timeout-minutes).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/model/parallel_context.h"
#include "parallel/mpi_communicator.h"
#include "parallel/rank_generator.h"
#include "parallel/watchdog.h"

namespace mcpp::parallel {

struct ProcessGroupOptions {
  ParallelSizes sizes;                    // dp is derived: world / (tp · cp · pp) (ep = 1 for now)
  bool use_tp_pp_dp_mapping = false;      // order "tp-cp-ep-pp-dp" instead of "tp-cp-ep-dp-pp"
  bool tied_embeddings = true;            // embedding group = first and last pp stage (else first only)
  bool sequence_parallel = false;         // copied into the model's ParallelContext
  // CUDA: every group also gets an NCCL communicator, on the CUDA device current at construction
  // (use_local_cuda_device(), parallel/cuda/local_device.h, picks it).
  Device device = Device::CPU;
  int64_t distributed_timeout_minutes = 10;  // watchdog limit (0: none); see distributed_timeout()
};

// One group this rank belongs to: its name (tp, dp-cp, embedding, ...), its global members
// (group rank i = members[i]) and its communicators. `comm` is null where the rank belongs to no
// group of the kind (embedding groups of middle pipeline stages).
struct Group {
  std::string name;
  std::vector<int> members;
  std::unique_ptr<MpiCommunicator> comm;                 // host tensors and host-side values
  std::unique_ptr<comm::Communicator> device_comm;       // CUDA tensors (NCCL); null on CPU
  // The communicator for the model's tensors: NCCL when built for CUDA, else MPI.
  comm::Communicator* tensor_comm() const { return device_comm ? device_comm.get() : comm.get(); }
  bool contains_me() const { return comm != nullptr; }
  int rank() const { return comm->rank(); }
  int size() const { return static_cast<int>(members.size()); }
};

class ProcessGroups {
 public:
  // Collective over `world` (every rank must call it with the same options).
  ProcessGroups(const ProcessGroupOptions& options, MPI_Comm world = MPI_COMM_WORLD);

  const ParallelSizes& sizes() const { return sizes_; }
  const std::string& order() const { return order_; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  Device device() const { return device_; }
  // Null when the timeout is 0.
  const std::shared_ptr<Watchdog>& watchdog() const { return watchdog_; }

  Group tp, cp, dp, dp_cp, pp;
  Group model_parallel;  // tp-pp: grad-norm reduction without the distributed optimizer
  Group tp_cp, tp_dp, tp_dp_cp;
  Group embedding;            // tied word-embedding gradient all-reduce (pp > 1)
  Group position_embedding;   // first pp stage only
  Group grad_stats;           // the distributed-optimizer instance: every rank (one instance)

  int tp_rank() const { return tp.rank(); }
  int pp_rank() const { return pp.rank(); }
  int dp_rank() const { return dp.rank(); }
  int cp_rank() const { return cp.rank(); }
  bool is_first_pp_stage() const { return pp.rank() == 0; }
  bool is_last_pp_stage() const { return pp.rank() == pp.size() - 1; }

  // The model's view (tp tensor communicator, ranks and sizes); valid while this object lives.
  model::ParallelContext parallel_context() const;

 private:
  Group split(MPI_Comm world, const std::string& name, const std::vector<std::vector<int>>& groups);

  ParallelSizes sizes_;
  std::string order_;
  bool sequence_parallel_ = false;
  Device device_ = Device::CPU;
  std::shared_ptr<Watchdog> watchdog_;
  int world_rank_ = 0, world_size_ = 1;
};

// Megatron's embedding ranks of one pipeline group: first and last stage when the output layer is
// tied to the word embedding (and there are two stages or more), else the first stage only.
std::vector<int> embedding_ranks(const std::vector<int>& pp_group, bool tied_embeddings);

}  // namespace mcpp::parallel
