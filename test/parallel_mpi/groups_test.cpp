// Process groups under mpirun: every group's members and ranks equal the RankGenerator's, and
// the communicators really span those ranks (an all-gather of world ranks returns the members).
#include <catch2/catch.hpp>

#include <algorithm>

#include "parallel/process_groups.h"
#include "test/common/mpi_test_util.h"

using namespace mcpp;
using namespace mcpp::parallel;
using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::run_on_ranks;

namespace {

void check_group(const Group& group, const std::vector<int>& expected, int world_rank, const char* name) {
  INFO("group " << name << " on world rank " << world_rank);
  CHECK(group.members == expected);
  REQUIRE(group.contains_me());
  CHECK(group.size() == static_cast<int>(expected.size()));
  CHECK(group.comm->size() == group.size());
  CHECK(expected.at(group.rank()) == world_rank);
  Tensor mine = Tensor::empty({1}, DType::I64);
  mine.data<int64_t>()[0] = world_rank;
  Tensor all = Tensor::empty({group.size()}, DType::I64);
  group.comm->all_gather(mine, all);
  for (int i = 0; i < group.size(); ++i) CHECK(all.data<int64_t>()[i] == expected[i]);
}

void check_layout(int tp, int cp, int pp, bool tp_pp_dp, bool tied) {
  const int world = mpi().size(), me = mpi().rank();
  ProcessGroupOptions options;
  options.sizes = {tp, cp, 1, 1, pp};
  options.use_tp_pp_dp_mapping = tp_pp_dp;
  options.tied_embeddings = tied;
  ProcessGroups groups(options);
  const int dp = world / (tp * cp * pp);
  CHECK(groups.sizes().dp == dp);
  const RankGenerator generator({tp, cp, 1, dp, pp}, tp_pp_dp ? "tp-cp-ep-pp-dp" : "tp-cp-ep-dp-pp");
  INFO("tp " << tp << " cp " << cp << " pp " << pp << " dp " << dp << (tp_pp_dp ? " tp-pp-dp order" : ""));
  check_group(groups.tp, generator.group_of("tp", me), me, "tp");
  check_group(groups.cp, generator.group_of("cp", me), me, "cp");
  check_group(groups.dp, generator.group_of("dp", me), me, "dp");
  check_group(groups.dp_cp, generator.group_of("dp-cp", me), me, "dp-cp");
  check_group(groups.pp, generator.group_of("pp", me), me, "pp");
  check_group(groups.model_parallel, generator.group_of("tp-pp", me), me, "tp-pp");
  check_group(groups.tp_cp, generator.group_of("tp-cp", me), me, "tp-cp");
  check_group(groups.tp_dp, generator.group_of("tp-dp", me), me, "tp-dp");
  check_group(groups.tp_dp_cp, generator.group_of("tp-dp-cp", me), me, "tp-dp-cp");
  CHECK(groups.grad_stats.size() == world);
  CHECK(groups.tp_rank() == generator.coordinate(me, "tp"));
  CHECK(groups.pp_rank() == generator.coordinate(me, "pp"));
  CHECK(groups.dp_rank() == generator.coordinate(me, "dp"));

  // Embedding groups: first (and, tied, last) stage of this rank's pipeline.
  const std::vector<int> pipeline = generator.group_of("pp", me);
  const std::vector<int> embedding = embedding_ranks(pipeline, tied);
  const bool in_embedding = std::find(embedding.begin(), embedding.end(), me) != embedding.end();
  CHECK(groups.embedding.contains_me() == in_embedding);
  if (in_embedding) check_group(groups.embedding, embedding, me, "embedding");
  CHECK(groups.position_embedding.contains_me() == (pipeline.front() == me));
  if (pipeline.front() == me) check_group(groups.position_embedding, {me}, me, "position embedding");

  const model::ParallelContext context = groups.parallel_context();
  CHECK(context.tp_size == tp);
  CHECK(context.tp_comm->size() == tp);
  CHECK(context.pp_size == pp);
}

}  // namespace

TEST_CASE("rank body: process groups at 4 ranks", "[.][rank-groups4]") {
  REQUIRE(mpi().size() == 4);
  check_layout(2, 1, 2, false, true);
  check_layout(1, 1, 4, false, false);
  check_layout(2, 2, 1, false, true);
  check_layout(1, 2, 2, true, true);
  check_layout(1, 1, 1, false, true);
}

TEST_CASE("rank body: process groups at 8 ranks", "[.][rank-groups8]") {
  REQUIRE(mpi().size() == 8);
  check_layout(2, 2, 2, false, true);
  check_layout(2, 1, 2, false, true);
  check_layout(2, 1, 2, true, true);
  check_layout(1, 1, 4, false, true);
  check_layout(4, 1, 1, false, false);
}

TEST_CASE("process groups equal the rank generator's at 4 and 8 ranks") {
  CHECK(run_on_ranks(4, "[rank-groups4]"));
  CHECK(run_on_ranks(8, "[rank-groups8]"));
}
