#pragma once
// Pipeline-parallel schedules as plain lists: the forward and backward passes one pipeline rank
// runs in one iteration, in order (compat §5.2 and §5.3). An executor walks the list, receiving
// activations before each forward and gradients before each backward from its neighbours.
#include <string>
#include <vector>

namespace mcpp::parallel {

enum class PipelinePass { forward, backward };

struct ScheduleStep {
  PipelinePass pass = PipelinePass::forward;
  int microbatch = 0;
  int chunk = 0;  // model chunk (virtual stage) on this rank; 0 without interleaving
  bool operator==(const ScheduleStep&) const = default;
};

// Non-interleaved 1F1B: warm-up forwards, steady one-forward-one-backward (the backward of the
// oldest microbatch), cool-down backwards. warmup = min(P − r − 1, M).
int one_f_one_b_warmup(int pp_rank, int pp_size, int num_microbatches);
std::vector<ScheduleStep> one_f_one_b_schedule(int pp_rank, int pp_size, int num_microbatches);

// Interleaved (virtual pipeline, vp chunks per rank). `group_size` = Megatron's
// --microbatch-group-size-per-virtual-pipeline-stage (0: pp_size); checked: P ≤ G ≤ M and
// M mod G is 0 or ≥ P.
struct InterleavedOptions {
  int pp_rank = 0;
  int pp_size = 1;
  int virtual_size = 1;
  int num_microbatches = 1;
  int group_size = 0;
};
// The order of the M·vp (microbatch, chunk) forward steps: blocks of G microbatches, chunk 0
// over the block, then chunk 1, ... (the last block may be shorter).
std::vector<ScheduleStep> interleaved_forward_table(const InterleavedOptions& options);
// (P − r − 1)·2 + (vp − 1)·G, capped at M·vp.
int interleaved_warmup(const InterleavedOptions& options);
// Forward k uses table[k]; backward k uses table[k] with the chunk mirrored (vp − 1 − c).
std::vector<ScheduleStep> interleaved_schedule(const InterleavedOptions& options);

// "F0 F1 B0 ..." ("F0.1" = microbatch 0, chunk 1 when any step has a chunk > 0): for messages
// and tests.
std::string describe(const std::vector<ScheduleStep>& schedule);

}  // namespace mcpp::parallel
