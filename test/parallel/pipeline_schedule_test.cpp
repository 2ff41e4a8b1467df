// Pipeline schedules against Megatron's warm-up counts and the compat reference's examples.
#include <catch2/catch.hpp>

#include <map>

#include "core/base/error.h"
#include "parallel/pipeline_schedule.h"

using namespace mcpp::parallel;

namespace {

// Every (microbatch, chunk) is run forward once and backward once, the backward later.
void check_complete(const std::vector<ScheduleStep>& schedule, int microbatches, int chunks) {
  std::map<std::pair<int, int>, int> forward_at, backward_at;
  for (int i = 0; i < static_cast<int>(schedule.size()); ++i) {
    auto& seen = schedule[i].pass == PipelinePass::forward ? forward_at : backward_at;
    CHECK(seen.emplace(std::make_pair(schedule[i].microbatch, schedule[i].chunk), i).second);
  }
  CHECK(forward_at.size() == size_t(microbatches * chunks));
  CHECK(backward_at.size() == size_t(microbatches * chunks));
  for (const auto& [key, at] : backward_at) {
    REQUIRE(forward_at.count(key) == 1);
    CHECK(forward_at[key] < at);
  }
}

}  // namespace

TEST_CASE("1F1B: warm-up min(P - r - 1, M), steady pairs with the oldest backward, cool-down") {
  CHECK(describe(one_f_one_b_schedule(0, 4, 6)) == "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5");
  CHECK(describe(one_f_one_b_schedule(2, 4, 6)) == "F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 B5");
  CHECK(describe(one_f_one_b_schedule(3, 4, 6)) == "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5");
  // Fewer microbatches than stages: all forwards, then all backwards.
  CHECK(one_f_one_b_warmup(0, 4, 2) == 2);
  CHECK(describe(one_f_one_b_schedule(0, 4, 2)) == "F0 F1 B0 B1");
  for (int p : {1, 2, 4, 8})
    for (int r = 0; r < p; ++r)
      for (int m : {1, 3, 8}) {
        CHECK(one_f_one_b_warmup(r, p, m) == std::min(p - r - 1, m));
        check_complete(one_f_one_b_schedule(r, p, m), m, 1);
      }
}

TEST_CASE("interleaved: forward table in microbatch groups, mirrored chunks in backward") {
  InterleavedOptions o;
  o.pp_size = 2;
  o.virtual_size = 2;
  o.num_microbatches = 5;
  o.group_size = 3;
  // The compat reference's example (P=2, G=3, M=5, vp=2).
  std::vector<ScheduleStep> expected;
  for (auto [mb, chunk] : std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1},
                                                           {3, 0}, {4, 0}, {3, 1}, {4, 1}})
    expected.push_back({PipelinePass::forward, mb, chunk});
  CHECK(interleaved_forward_table(o) == expected);
  // warmup = (P - r - 1)·2 + (vp - 1)·G.
  CHECK(interleaved_warmup(o) == 5);
  o.pp_rank = 1;
  CHECK(interleaved_warmup(o) == 3);
  const auto schedule = interleaved_schedule(o);
  CHECK(describe(schedule) ==
        "F0.0 F1.0 F2.0 F0.1 B0.1 F1.1 B1.1 F2.1 B2.1 F3.0 B0.0 F4.0 B1.0 F3.1 B2.0 F4.1 B3.1 B4.1 B3.0 B4.0");
  check_complete(schedule, 5, 2);

  // Megatron's default group size is P; warm-up is capped at M·vp (all forwards first).
  InterleavedOptions small;
  small.pp_size = 4;
  small.virtual_size = 2;
  small.num_microbatches = 4;
  CHECK(interleaved_warmup(small) == 8);
  CHECK(describe(interleaved_schedule(small)) ==
        "F0.0 F1.0 F2.0 F3.0 F0.1 F1.1 F2.1 F3.1 B0.1 B1.1 B2.1 B3.1 B0.0 B1.0 B2.0 B3.0");
  small.pp_rank = 3;
  CHECK(interleaved_warmup(small) == 4);
  for (int r = 0; r < 4; ++r) {
    small.pp_rank = r;
    small.num_microbatches = 8;
    check_complete(interleaved_schedule(small), 8, 2);
  }
}

TEST_CASE("interleaved: microbatch group size rules give clear errors") {
  InterleavedOptions o;
  o.pp_size = 4;
  o.virtual_size = 2;
  o.num_microbatches = 3;  // fewer than P
  CHECK_THROWS_AS(interleaved_schedule(o), mcpp::Error);
  o.num_microbatches = 9;  // 9 mod 4 = 1 < P
  CHECK_THROWS_AS(interleaved_schedule(o), mcpp::Error);
  o.num_microbatches = 12;
  CHECK_NOTHROW(interleaved_schedule(o));
  o.group_size = 6;  // 12 mod 6 = 0
  CHECK_NOTHROW(interleaved_schedule(o));
}

