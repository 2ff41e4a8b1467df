#include "parallel/param_gather.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "parallel/distributed_optimizer.h"
#include "parallel/grad_buffer.h"

namespace mcpp::parallel {

ParamGatherer::ParamGatherer(model::ParamBuffer& params, comm::Communicator& dp_cp, int num_layers)
    : params_(params), dp_cp_(dp_cp) {
  const auto& groups = params_.groups();
  for (int g = 0; g < static_cast<int>(groups.size()); ++g) {
    for (int index = 0; index < static_cast<int>(groups[g].buckets.size()); ++index) {
      const model::Bucket& bucket = groups[g].buckets[index];
      BucketGather gather;
      gather.group = g;
      gather.index = index;
      for (int member : bucket.members) gather.parts.push_back(backward_part(params_.info(member).key, num_layers));
      std::sort(gather.parts.begin(), gather.parts.end());
      gather.parts.erase(std::unique(gather.parts.begin(), gather.parts.end()), gather.parts.end());
      buckets_.push_back(std::move(gather));
    }
  }
  // Buffers hold parameters in reverse registration order, so the first bucket is the one the
  // forward needs last: gather in the order of each bucket's first part instead.
  std::stable_sort(buckets_.begin(), buckets_.end(), [](const BucketGather& a, const BucketGather& b) {
    return (a.parts.empty() ? 0 : a.parts.front()) < (b.parts.empty() ? 0 : b.parts.front());
  });
}

// Destroying the bucket states waits for every gather still in flight: an error unwinding past a
// step must not leave the communicator writing into buffers that are about to be freed.
ParamGatherer::~ParamGatherer() = default;

std::vector<std::pair<int, int>> ParamGatherer::order() const {
  std::vector<std::pair<int, int>> order;
  for (const BucketGather& b : buckets_) order.emplace_back(b.group, b.index);
  return order;
}

void ParamGatherer::start_bucket(int group, int bucket) {
  for (BucketGather& b : buckets_) {
    if (b.group == group && b.index == bucket) return start_gather(b);
  }
  throw Error("internal: no bucket " + std::to_string(bucket) + " in parameter group " + std::to_string(group));
}

void ParamGatherer::start_gather(BucketGather& b) {
  b.gather.wait();  // normally done by the forward already
  if (dp_cp_.size() == 1) return;
  // Rank k's slice sits at k·numel/dp inside the bucket: the in-place all-gather layout.
  const model::ParamBufferGroup& group = params_.groups()[b.group];
  const model::Bucket& bucket = group.buckets[b.index];
  const ShardRange mine = bucket_shard(bucket, dp_cp_.rank(), dp_cp_.size());
  const Tensor& params = gathered_params(group);
  b.gather = dp_cp_.all_gather_async(params.sub(mine.begin, {mine.numel()}),
                                     params.sub(bucket.begin, {bucket.numel()}));
}

void ParamGatherer::part_needed(int part) {
  for (BucketGather& b : buckets_)
    if (std::binary_search(b.parts.begin(), b.parts.end(), part)) b.gather.wait();
}

void ParamGatherer::finish() {
  for (BucketGather& b : buckets_) b.gather.wait();
}

}  // namespace mcpp::parallel
