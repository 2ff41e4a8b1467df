// The interleaved schedule's lock-step plan: every rank's passes are its schedule, every transfer
// is posted by sender and receiver at the same step, and nothing runs before its input arrived.
#include <catch2/catch.hpp>

#include <map>
#include <tuple>

#include "core/base/error.h"
#include "core/comm/communicator.h"
#include "parallel/pipeline_lockstep.h"

using namespace mcpp::parallel;

namespace {

using Key = std::tuple<int, int, int>;  // (clock, microbatch, sender's chunk)

// Checks the plans of all ranks of one configuration against each other.
void check_plans(int p, int vp, int m, int g) {
  INFO("P=" << p << " vp=" << vp << " M=" << m << " G=" << g);
  std::vector<std::vector<LockstepStep>> plans;
  for (int r = 0; r < p; ++r) plans.push_back(interleaved_lockstep_plan({r, p, vp, m, g}));
  for (int r = 0; r < p; ++r) {
    INFO("rank " << r);
    const int next = (r + 1) % p, prev = (r + p - 1) % p;
    std::vector<ScheduleStep> passes;
    std::map<std::pair<int, int>, int> forward_input_at, backward_grad_at;  // (chunk, mb) -> clock
    const LockstepStep* last_with_passes = nullptr;
    int clock = -1;
    for (const LockstepStep& step : plans[r]) {
      CHECK(step.clock > clock);
      clock = step.clock;
      CHECK((step.exchanges() || !step.passes.empty()));
      // A send carries what the rank's round of the previous step produced.
      if (step.send_forward || step.send_backward) {
        REQUIRE(last_with_passes != nullptr);
        CHECK(last_with_passes->clock == step.clock - 1);
      }
      // Its receiver posts the matching receive at the same step, and vice versa.
      auto posted = [&](int rank, auto member) {
        for (const LockstepStep& other : plans[rank])
          if (other.clock == step.clock) return other.*member;
        return std::optional<StageTransfer>();
      };
      CHECK(posted(next, &LockstepStep::recv_forward) == step.send_forward);
      CHECK(posted(prev, &LockstepStep::recv_backward) == step.send_backward);
      CHECK(posted(prev, &LockstepStep::send_forward) == step.recv_forward);
      CHECK(posted(next, &LockstepStep::send_backward) == step.recv_backward);
      if (step.recv_forward)
        forward_input_at[{step.recv_forward->chunk + (r == 0 ? 1 : 0), step.recv_forward->microbatch}] = step.clock;
      if (step.recv_backward)
        backward_grad_at[{step.recv_backward->chunk - (r == p - 1 ? 1 : 0), step.recv_backward->microbatch}] =
            step.clock;
      // A round: at most one forward and one backward, forward first; its inputs have arrived.
      CHECK(step.passes.size() <= 2);
      for (const ScheduleStep& pass : step.passes) {
        const bool forward = pass.pass == PipelinePass::forward;
        const bool needs = forward ? !(r == 0 && pass.chunk == 0) : !(r == p - 1 && pass.chunk == vp - 1);
        auto& arrivals = forward ? forward_input_at : backward_grad_at;
        const auto arrived = arrivals.find({pass.chunk, pass.microbatch});
        CHECK(needs == (arrived != arrivals.end()));
        if (needs && arrived != arrivals.end()) CHECK(arrived->second <= step.clock);
        passes.push_back(pass);
      }
      if (step.passes.size() == 2) CHECK(step.passes[0].pass == PipelinePass::forward);
      if (!step.passes.empty()) last_with_passes = &step;
    }
    CHECK(describe(passes) == describe(interleaved_schedule({r, p, vp, m, g})));
  }
}

}  // namespace

TEST_CASE("interleaved lock-step plan: matched exchanges, inputs before use, the schedule's passes") {
  for (int p : {2, 3, 4, 5})
    for (int vp : {1, 2, 3, 4})
      for (int m = p; m <= 3 * p + 1; ++m)
        for (int g = p; g <= m; ++g) {
          if (m % g != 0 && m % g < p) continue;
          check_plans(p, vp, m, g);
        }
}

TEST_CASE("interleaved lock-step plan: two ranks, two chunks, four micro-batches") {
  // Rank 1 (the last) runs its first forward once rank 0's activation arrived at step 1; in the
  // steady state each step sends the previous round's activation and gradient and receives the
  // next ones, all with the one neighbour.
  const std::vector<LockstepStep> plan = interleaved_lockstep_plan({1, 2, 2, 4, 0});
  REQUIRE(plan.size() > 2);
  CHECK(plan[0].clock == 1);
  CHECK((plan[0].recv_forward == StageTransfer{0, 0}));
  CHECK((plan[0].passes == std::vector<ScheduleStep>{{PipelinePass::forward, 0, 0}}));
  CHECK((plan[1].send_forward == StageTransfer{0, 0}));  // to rank 0's chunk 1
  CHECK((plan[1].recv_forward == StageTransfer{1, 0}));
}

TEST_CASE("a single-rank communicator exchanges nothing") {
  mcpp::comm::SingleRankCommunicator single;
  single.exchange({});
  const mcpp::comm::P2POp ops[] = {mcpp::comm::P2POp::send(mcpp::Tensor::zeros({2}), 0)};
  CHECK_THROWS_WITH(single.exchange(ops), Catch::Contains("no peers"));
}
