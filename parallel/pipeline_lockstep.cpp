#include "parallel/pipeline_lockstep.h"

#include <string>

#include "core/base/error.h"

namespace mcpp::parallel {

namespace {

// One rank's schedule grouped into Megatron's rounds: warm-up forwards alone, steady
// (forward, backward) pairs, cool-down backwards alone.
std::vector<std::vector<ScheduleStep>> rounds_of(const InterleavedOptions& options) {
  const std::vector<ScheduleStep> schedule = interleaved_schedule(options);
  const int total = options.num_microbatches * options.virtual_size;
  const int warmup = interleaved_warmup(options);
  std::vector<std::vector<ScheduleStep>> rounds;
  size_t next = 0;
  for (int i = 0; i < warmup; ++i) rounds.push_back({schedule[next++]});
  for (int i = 0; i < total - warmup; ++i) {
    rounds.push_back({schedule[next], schedule[next + 1]});
    next += 2;
  }
  while (next < schedule.size()) rounds.push_back({schedule[next++]});
  return rounds;
}

// Where each rank stands while the plan is laid out.
struct RankState {
  std::vector<std::vector<ScheduleStep>> rounds;
  size_t next_round = 0;
  // Received tensors by (pass, chunk on this rank, microbatch).
  std::vector<char> arrived;
  // Produced by the round run in the previous step, sent at the coming one.
  std::optional<StageTransfer> outgoing_forward, outgoing_backward;
  std::vector<LockstepStep> steps;
};

}  // namespace

std::vector<LockstepStep> interleaved_lockstep_plan(const InterleavedOptions& options) {
  const int p = options.pp_size, vp = options.virtual_size, m = options.num_microbatches;
  check(p >= 2, "internal: a lock-step pipeline plan needs at least two pipeline ranks");
  auto first_stage = [&](int rank, int chunk) { return rank == 0 && chunk == 0; };
  auto last_stage = [&](int rank, int chunk) { return rank == p - 1 && chunk == vp - 1; };
  auto slot = [&](PipelinePass pass, int chunk, int mb) {
    return (size_t(pass == PipelinePass::backward) * size_t(vp) + size_t(chunk)) * size_t(m) + size_t(mb);
  };
  std::vector<RankState> ranks(static_cast<size_t>(p));
  for (int r = 0; r < p; ++r) {
    InterleavedOptions of_rank = options;
    of_rank.pp_rank = r;
    ranks[r].rounds = rounds_of(of_rank);
    ranks[r].arrived.assign(2 * size_t(vp) * m, 0);
  }
  // Whether a pass has what it needs from its neighbours.
  auto ready = [&](int rank, const ScheduleStep& pass) {
    if (pass.pass == PipelinePass::forward)
      return first_stage(rank, pass.chunk) || ranks[rank].arrived[slot(pass.pass, pass.chunk, pass.microbatch)];
    return last_stage(rank, pass.chunk) || ranks[rank].arrived[slot(pass.pass, pass.chunk, pass.microbatch)];
  };

  for (int clock = 0;; ++clock) {
    // The exchange of this step: every rank's outgoing tensors reach its neighbours now.
    std::vector<LockstepStep> now(static_cast<size_t>(p));
    bool pending = false;
    for (int r = 0; r < p; ++r) {
      RankState& state = ranks[r];
      now[r].clock = clock;
      if (state.outgoing_forward) {
        const int to = (r + 1) % p;
        const StageTransfer sent = *state.outgoing_forward;
        const int chunk = sent.chunk + (r == p - 1 ? 1 : 0);  // the ring wraps to the next chunk
        now[r].send_forward = sent;
        now[to].recv_forward = sent;
        ranks[to].arrived[slot(PipelinePass::forward, chunk, sent.microbatch)] = 1;
      }
      if (state.outgoing_backward) {
        const int to = (r + p - 1) % p;
        const StageTransfer sent = *state.outgoing_backward;
        const int chunk = sent.chunk - (r == 0 ? 1 : 0);
        now[r].send_backward = sent;
        now[to].recv_backward = sent;
        ranks[to].arrived[slot(PipelinePass::backward, chunk, sent.microbatch)] = 1;
      }
      state.outgoing_forward.reset();
      state.outgoing_backward.reset();
    }
    // Then every rank runs its next round if everything it needs has arrived.
    bool progressed = false, done = true;
    for (int r = 0; r < p; ++r) {
      RankState& state = ranks[r];
      if (state.next_round < state.rounds.size()) {
        const std::vector<ScheduleStep>& round = state.rounds[state.next_round];
        bool all_ready = true;
        for (const ScheduleStep& pass : round) all_ready = all_ready && ready(r, pass);
        if (all_ready) {
          now[r].passes = round;
          ++state.next_round;
          progressed = true;
          for (const ScheduleStep& pass : round) {
            if (pass.pass == PipelinePass::forward && !last_stage(r, pass.chunk))
              state.outgoing_forward = StageTransfer{pass.microbatch, pass.chunk};
            if (pass.pass == PipelinePass::backward && !first_stage(r, pass.chunk))
              state.outgoing_backward = StageTransfer{pass.microbatch, pass.chunk};
          }
        }
      }
      done = done && state.next_round == state.rounds.size();
      pending = pending || state.outgoing_forward || state.outgoing_backward;
      if (now[r].exchanges() || !now[r].passes.empty()) state.steps.push_back(std::move(now[r]));
    }
    if (done && !pending) break;
    // Cannot happen for a schedule the unbuffered dataflow can run; guards the plan itself.
    check(progressed || pending, "internal: the interleaved pipeline plan is stuck at step " + std::to_string(clock));
  }
  return std::move(ranks[options.pp_rank].steps);
}

}  // namespace mcpp::parallel
