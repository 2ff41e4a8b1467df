#pragma once
// --overlap-param-gather (compat §6.3 step 5): with the distributed optimizer every data-parallel
// rank updates only its slice of each bucket, and the updated parameters must be all-gathered
// before they are used again. Instead of gathering synchronously in the optimizer step, one
// non-blocking all-gather per bucket is started as soon as the step has updated this rank's slice
// of it (the optimizer updates the buckets the forward needs first, first, so their gathers run
// beside the later updates), and each is waited for just before the next forward first uses a
// parameter of that bucket (GPTModel's forward hook). Over MPI the host waits there; over NCCL
// the gathers run on the communicator's stream and only the compute stream waits. With mixed
// precision the compute copy is what is gathered (the optimizer wrote this rank's slice of it),
// as without overlap (gathered_params()); only the waiting moves.
#include <utility>
#include <vector>

#include "core/comm/communicator.h"
#include "core/model/param_buffer.h"

namespace mcpp::parallel {

class ParamGatherer {
 public:
  // `dp_cp`: the group the buckets are sharded over (its communicator for the buffers' device).
  // `num_layers`: the model's total layer count (for backward_part(), whose part numbers the
  // forward hook uses too).
  ParamGatherer(model::ParamBuffer& params, comm::Communicator& dp_cp, int num_layers);
  ~ParamGatherer();
  ParamGatherer(const ParamGatherer&) = delete;
  ParamGatherer& operator=(const ParamGatherer&) = delete;

  // The buckets as (group, bucket index), in the order the forward first needs them: the order
  // the optimizer updates them in (DistributedOptimizer::set_update_order), so that each
  // bucket's gather starts as soon as this rank's slice of it is updated.
  std::vector<std::pair<int, int>> order() const;
  // After the optimizer has updated this rank's slice of one bucket: start its all-gather (in
  // place of the step's gather).
  void start_bucket(int group, int bucket);
  // Forward hook: wait for the gathers of the buckets that hold parameters of `part`.
  void part_needed(int part);
  // Wait for every gather still in flight (before anything reads all parameters: checkpoints).
  void finish();

 private:
  struct BucketGather {
    int group = 0;
    int index = 0;  // of the bucket in its group
    std::vector<int> parts;          // sorted backward_part() of the bucket's parameters
    comm::PendingCollective gather;  // in flight from start_bucket() until the bucket is needed
  };

  void start_gather(BucketGather& b);

  model::ParamBuffer& params_;
  comm::Communicator& dp_cp_;
  std::vector<BucketGather> buckets_;  // in the order the forward first needs them
};

}  // namespace mcpp::parallel
