// DDP buffer layout (compat §6.1): bucket sizes, distributed-optimizer padding, shard ownership.
#include <catch2/catch.hpp>

#include <numeric>

#include "core/comm/communicator.h"
#include "core/model/param_info.h"
#include "parallel/grad_buffer.h"
#include "test/model/model_test_util.h"

using namespace mcpp;
using namespace mcpp::parallel;

namespace {

std::vector<model::ParamInfo> tiny_infos() {
  comm::SingleRankCommunicator comm;
  return model::gpt_param_infos(model::testing::gpt2_config(), model::ParallelContext::single(comm));
}

}  // namespace

TEST_CASE("Megatron's default bucket size") {
  DdpOptions o;
  o.dp_cp_size = 8;
  CHECK(ddp_bucket_size(o) == 0);  // no --overlap-grad-reduce: one bucket
  o.bucket_size = 1000;
  CHECK(ddp_bucket_size(o) == 0);
  o.overlap_grad_reduce = true;
  CHECK(ddp_bucket_size(o) == 1000);
  o.bucket_size.reset();
  CHECK(ddp_bucket_size(o) == 40000000);
  o.dp_cp_size = 64;
  CHECK(ddp_bucket_size(o) == 64000000);
}

TEST_CASE("distributed-optimizer buckets: starts aligned to 64, ends padded to lcm(dp, 128)") {
  for (int dp : {1, 2, 3, 6}) {
    DdpOptions o;
    o.use_distributed_optimizer = true;
    o.overlap_grad_reduce = true;
    o.bucket_size = 1000;
    o.dp_cp_size = dp;
    const model::BufferLayout layout = ddp_buffer_layout(o);
    CHECK(layout.param_align == 64);
    CHECK(layout.bucket_end_multiple == std::lcm(dp, 128));
    model::ParamBuffer buffer(tiny_infos(), DType::F32, Device::CPU, layout);
    const auto& group = buffer.groups().at(0);
    REQUIRE(group.buckets.size() >= 3);
    int64_t expected_begin = 0;
    size_t members = 0;
    for (const auto& bucket : group.buckets) {
      CHECK(bucket.begin == expected_begin);
      CHECK(bucket.numel() % layout.bucket_end_multiple == 0);
      int64_t last_end = bucket.begin, previous_end = bucket.begin;
      for (int index : bucket.members) {
        previous_end = last_end;
        CHECK(buffer.offset_of(index) % 64 == 0);
        CHECK(buffer.offset_of(index) >= last_end);
        CHECK(buffer.offset_of(index) - last_end < 64);
        last_end = buffer.offset_of(index) + buffer.info(index).local_numel();
        CHECK(group.members[members++] == index);
      }
      // Closed at the first parameter that reached the size (or at the buffer's end), then padded.
      const int64_t unpadded = last_end - bucket.begin;
      if (&bucket != &group.buckets.back()) CHECK(unpadded >= 1000);
      CHECK(previous_end - bucket.begin < 1000);
      CHECK(bucket.end - last_end < layout.bucket_end_multiple);
      // Every DP rank owns an equal contiguous slice.
      int64_t covered = bucket.begin;
      for (int r = 0; r < dp; ++r) {
        const ShardRange shard = bucket_shard(bucket, r, dp);
        CHECK(shard.begin == covered);
        covered = shard.end;
      }
      CHECK(covered == bucket.end);
      expected_begin = bucket.end;
    }
    CHECK(members == group.members.size());
    CHECK(group.params.numel() == expected_begin);
  }
}

TEST_CASE("distributed-optimizer buckets with --ddp-pad-buckets-for-high-nccl-busbw end at lcm(dp, 128, 65536)") {
  for (int dp : {1, 3, 6}) {
    DdpOptions o;
    o.use_distributed_optimizer = true;
    o.overlap_grad_reduce = true;
    o.bucket_size = 1000;
    o.dp_cp_size = dp;
    o.pad_for_high_nccl_busbw = true;
    const model::BufferLayout layout = ddp_buffer_layout(o);
    CHECK(layout.bucket_end_multiple == std::lcm(std::lcm(dp, 128), 65536));
    model::ParamBuffer buffer(tiny_infos(), DType::F32, Device::CPU, layout);
    for (const auto& bucket : buffer.groups().at(0).buckets) CHECK(bucket.numel() % layout.bucket_end_multiple == 0);
  }
  // Without the distributed optimizer nothing is padded, as in Megatron.
  DdpOptions plain;
  plain.dp_cp_size = 2;
  plain.pad_for_high_nccl_busbw = true;
  CHECK(ddp_buffer_layout(plain).bucket_end_multiple <= 1);
}

TEST_CASE("plain DDP: no padding, one bucket unless overlapping; own-bucket parameters stand alone") {
  DdpOptions o;
  o.dp_cp_size = 2;
  model::ParamBuffer plain(tiny_infos(), DType::F32, Device::CPU, ddp_buffer_layout(o));
  REQUIRE(plain.groups()[0].buckets.size() == 1);
  CHECK(plain.groups()[0].buckets[0].numel() == plain.total_numel());

  model::BufferLayout alone;
  alone.param_align = 64;
  alone.bucket_end_multiple = 128;
  alone.own_bucket_keys = {"embedding.word_embeddings.weight"};
  model::ParamBuffer buffer(tiny_infos(), DType::F32, Device::CPU, alone);
  const auto& buckets = buffer.groups()[0].buckets;
  const int embedding = buffer.index_of("embedding.word_embeddings.weight");
  int found = 0;
  for (const auto& bucket : buckets)
    if (std::find(bucket.members.begin(), bucket.members.end(), embedding) != bucket.members.end()) {
      CHECK(bucket.members.size() == 1);
      ++found;
    }
  CHECK(found == 1);
}
