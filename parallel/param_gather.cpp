#include "parallel/param_gather.h"

#include <algorithm>

#include "core/base/error.h"
#include "parallel/grad_buffer.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::parallel {

ParamGatherer::ParamGatherer(model::ParamBuffer& params, MpiCommunicator& dp_cp, int num_layers)
    : params_(params), dp_cp_(dp_cp) {
  const auto& groups = params_.groups();
  for (int g = 0; g < static_cast<int>(groups.size()); ++g) {
    check(groups[g].param_dtype == DType::F32, "--overlap-param-gather gathers fp32 parameters only");
    check(groups[g].params.device() == Device::CPU, "--overlap-param-gather needs CPU parameter buffers for now");
    has_compute_copy_ |= groups[g].compute_params.defined();
    for (const model::Bucket& bucket : groups[g].buckets) {
      BucketGather gather{g, bucket, {}, MPI_REQUEST_NULL};
      for (int index : bucket.members) gather.parts.push_back(backward_part(params_.info(index).key, num_layers));
      std::sort(gather.parts.begin(), gather.parts.end());
      gather.parts.erase(std::unique(gather.parts.begin(), gather.parts.end()), gather.parts.end());
      buckets_.push_back(std::move(gather));
    }
  }
}

ParamGatherer::~ParamGatherer() {
  // Normally finished already; an error unwinding past a step must not leave MPI writing into
  // buffers that are about to be freed.
  for (BucketGather& b : buckets_)
    if (b.request != MPI_REQUEST_NULL) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
}

void ParamGatherer::start() {
  sync_pending_ = has_compute_copy_;
  if (dp_cp_.size() == 1) return;
  for (BucketGather& b : buckets_) {
    check(b.request == MPI_REQUEST_NULL, "internal: a parameter gather started twice");
    // Rank k's slice sits at k·numel/dp inside the bucket: exactly MPI_IN_PLACE's layout.
    const ShardRange mine = bucket_shard(b.bucket, dp_cp_.rank(), dp_cp_.size());
    float* bucket = params_.groups()[b.group].params.data<float>() + b.bucket.begin;
    check_mpi(MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, bucket, static_cast<int>(mine.numel()), MPI_FLOAT,
                             dp_cp_.handle(), &b.request),
              "MPI_Iallgather (parameters)");
  }
}

void ParamGatherer::part_needed(int part) {
  if (sync_pending_) {
    // The layers read the compute copy, refreshed for the whole buffer at once.
    finish();
    return;
  }
  for (BucketGather& b : buckets_) {
    if (b.request == MPI_REQUEST_NULL) continue;
    if (std::binary_search(b.parts.begin(), b.parts.end(), part)) MpiCommunicator::wait(b.request);
  }
}

void ParamGatherer::wait_all() {
  for (BucketGather& b : buckets_)
    if (b.request != MPI_REQUEST_NULL) MpiCommunicator::wait(b.request);
}

void ParamGatherer::finish() {
  wait_all();
  if (sync_pending_) params_.sync_compute_params();
  sync_pending_ = false;
}

}  // namespace mcpp::parallel
