#pragma once
// The interleaved schedule (parallel/pipeline_schedule.h) cut into lock-step steps: at each step
// every pipeline rank makes ONE exchange with its two ring neighbours (Megatron's batched
// send_forward_recv_forward / send_backward_recv_backward /
// send_forward_backward_recv_forward_backward) and then runs the passes of one round: one warm-up
// forward, one steady forward + backward, or one cool-down backward, as Megatron's loop does.
//
// Why the exchanges match on both sides (what NCCL needs: its sends wait for their receives, and
// a rank's calls to one peer match that peer's calls in issue order):
//  - Steps are numbered by one global clock t shared by all ranks, and a rank's plan is a pure
//    function of (P, vp, M, G): every rank derives the whole pipeline's plan, so the transfers
//    it posts at step t are, by construction, exactly those its neighbours post at step t (a
//    forward activation sent to the next rank at t is in that rank's receives at t, the same for
//    gradients to the previous rank). A round runs once every tensor it needs has been received
//    at a step ≤ its own, and what it produces is sent at the next step; a rank with nothing to
//    run or exchange at some t just skips it (empty exchanges are not issued).
//  - Per step and neighbour there is at most one activation and one gradient each way (a round
//    has at most one forward and one backward). Each exchange lists sends before receives and,
//    among each, the activation before the gradient; so with two ranks, where the previous and
//    next neighbour are one rank, its two sends are in the same order as the peer's two receives
//    (activation from "previous", gradient from "next"), as NCCL and MPI match them.
//  - No wait cycle: a rank's step-t exchange needs only its own earlier steps and its
//    neighbours' step-t exchanges, which need only their earlier steps; by induction over t
//    every step completes.
#include <optional>
#include <vector>

#include "parallel/pipeline_schedule.h"

namespace mcpp::parallel {

// A tensor passed between neighbouring virtual stages: the activation output by forward
// (microbatch, chunk), or the input gradient of backward (microbatch, chunk). `chunk` is the
// sender's; the receiver's is the next (forward) or previous (backward) virtual stage's.
struct StageTransfer {
  int microbatch = 0;
  int chunk = 0;
  bool operator==(const StageTransfer&) const = default;
};

struct LockstepStep {
  int clock = 0;  // the global step number, shared by all ranks
  // This rank's exchange: activation to the next rank and gradient to the previous one (outputs
  // of its previous round), activation from the previous rank and gradient from the next one.
  std::optional<StageTransfer> send_forward, send_backward, recv_forward, recv_backward;
  // Then these passes, in order (a forward before a backward); may be empty.
  std::vector<ScheduleStep> passes;
  bool exchanges() const { return send_forward || send_backward || recv_forward || recv_backward; }
};

// The steps of rank options.pp_rank, in clock order; steps with neither exchange nor passes are
// left out. The passes, concatenated, are exactly interleaved_schedule(options).
std::vector<LockstepStep> interleaved_lockstep_plan(const InterleavedOptions& options);

}  // namespace mcpp::parallel
