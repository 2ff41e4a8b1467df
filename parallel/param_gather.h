#pragma once
// --overlap-param-gather (compat §6.3 step 5): with the distributed optimizer every data-parallel
// rank updates only its slice of each bucket, and the updated parameters must be all-gathered
// before they are used again. Instead of gathering synchronously in the optimizer step, one
// non-blocking all-gather per bucket is started right after the step, and each is waited for
// just before the next forward first uses a parameter of that bucket (GPTModel's forward hook).
// The gathered values are the same as without overlap; only the waiting moves. With a separate
// compute copy of the parameters (mixed precision), the copy is refreshed once every gather is in.
#include <vector>

#include "core/model/param_buffer.h"
#include "parallel/mpi_communicator.h"

namespace mcpp::parallel {

class ParamGatherer {
 public:
  // `dp_cp`: the group the buckets are sharded over. `num_layers`: the model's total layer count
  // (for backward_part(), whose part numbers the forward hook uses too).
  ParamGatherer(model::ParamBuffer& params, MpiCommunicator& dp_cp, int num_layers);
  ~ParamGatherer();
  ParamGatherer(const ParamGatherer&) = delete;
  ParamGatherer& operator=(const ParamGatherer&) = delete;

  // After the optimizer has updated this rank's slices: start every bucket's all-gather (in
  // place of the step's gather and its compute-copy refresh).
  void start();
  // Forward hook: wait for the gathers of the buckets that hold parameters of `part`.
  void part_needed(int part);
  // Wait for every gather still in flight (before anything reads all parameters: checkpoints).
  void finish();

 private:
  struct BucketGather {
    int group = 0;
    model::Bucket bucket;
    std::vector<int> parts;  // sorted backward_part() of the bucket's parameters
    MPI_Request request = MPI_REQUEST_NULL;
  };

  void wait_all();

  model::ParamBuffer& params_;
  MpiCommunicator& dp_cp_;
  std::vector<BucketGather> buckets_;
  bool has_compute_copy_ = false;
  bool sync_pending_ = false;  // the compute copy is behind the gathered parameters
};

}  // namespace mcpp::parallel
