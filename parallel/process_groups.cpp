#include "parallel/process_groups.h"

#include <algorithm>

#include "core/base/error.h"
#include "parallel/group_communicator.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::parallel {

std::vector<int> embedding_ranks(const std::vector<int>& pp_group, bool tied_embeddings) {
  if (pp_group.size() <= 1 || !tied_embeddings) return {pp_group.front()};
  return {pp_group.front(), pp_group.back()};
}

ProcessGroups::ProcessGroups(const ProcessGroupOptions& options, MPI_Comm world)
    : sizes_(options.sizes),
      order_(options.use_tp_pp_dp_mapping ? "tp-cp-ep-pp-dp" : "tp-cp-ep-dp-pp"),
      sequence_parallel_(options.sequence_parallel),
      device_(options.device) {
  MPI_Comm_rank(world, &world_rank_);
  MPI_Comm_size(world, &world_size_);
  // Before any group exists, so that every communicator reports to it.
  if (DistributedTimeout timeout = distributed_timeout(options.distributed_timeout_minutes);
      timeout.duration.count() > 0)
    watchdog_ = std::make_shared<Watchdog>(std::move(timeout), world_rank_);
  check(sizes_.ep == 1, "--expert-model-parallel-size > 1 is not supported yet");
  const int model_parallel_size = sizes_.tp * sizes_.cp * sizes_.pp;
  check(world_size_ % model_parallel_size == 0,
        "world size " + std::to_string(world_size_) + " is not divisible by --tensor-model-parallel-size x "
            "--pipeline-model-parallel-size x --context-parallel-size = " + std::to_string(model_parallel_size));
  sizes_.dp = world_size_ / model_parallel_size;
  const RankGenerator generator(sizes_, order_);

  // The same sequence of splits on every rank (each split is collective over the world).
  tp = split(world, "tp", generator.groups("tp"));
  cp = split(world, "cp", generator.groups("cp"));
  dp = split(world, "dp", generator.groups("dp"));
  dp_cp = split(world, "dp-cp", generator.groups("dp-cp"));
  pp = split(world, "pp", generator.groups("pp"));
  model_parallel = split(world, "mp", generator.groups("tp-pp"));
  tp_cp = split(world, "tp-cp", generator.groups("tp-cp"));
  tp_dp = split(world, "tp-dp", generator.groups("tp-dp"));
  tp_dp_cp = split(world, "tp-dp-cp", generator.groups("tp-dp-cp"));
  std::vector<std::vector<int>> embedding_groups, position_groups;
  for (const auto& pp_group : generator.groups("pp")) {
    embedding_groups.push_back(embedding_ranks(pp_group, options.tied_embeddings));
    position_groups.push_back({pp_group.front()});
  }
  embedding = split(world, "embedding", embedding_groups);
  position_embedding = split(world, "position-embedding", position_groups);
  std::vector<int> everyone(world_size_);
  for (int r = 0; r < world_size_; ++r) everyone[r] = r;
  grad_stats = split(world, "intra-dist-opt", {everyone});
}

Group ProcessGroups::split(MPI_Comm world, const std::string& name, const std::vector<std::vector<int>>& groups) {
  Group mine;
  mine.name = name;
  int color = MPI_UNDEFINED, key = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto it = std::find(groups[g].begin(), groups[g].end(), world_rank_);
    if (it == groups[g].end()) continue;
    color = static_cast<int>(g);
    key = static_cast<int>(it - groups[g].begin());
    mine.members = groups[g];
  }
  MPI_Comm comm = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(world, color, key, &comm), "MPI_Comm_split");
  if (comm == MPI_COMM_NULL) return mine;
  mine.comm = std::make_unique<MpiCommunicator>(comm, name, watchdog_);
  // Collective over the group only: ranks create their groups of one kind side by side.
  if (device_ == Device::CUDA) mine.device_comm = make_group_communicator(device_, comm, name, watchdog_);
  return mine;
}

model::ParallelContext ProcessGroups::parallel_context() const {
  model::ParallelContext context;
  context.tp_rank = tp.rank();
  context.tp_size = tp.size();
  context.tp_comm = tp.tensor_comm();
  context.sequence_parallel = sequence_parallel_ && tp.size() > 1;
  context.pp_rank = pp.rank();
  context.pp_size = pp.size();
  context.cp_rank = cp.rank();
  context.cp_size = cp.size();
  return context;
}

}  // namespace mcpp::parallel
