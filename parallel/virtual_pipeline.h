#pragma once
// Runs one iteration of an interleaved pipeline rank (Megatron's virtual pipeline, compat §5.3):
// the rank holds `vp` model chunks; chunk c of pipeline rank r is virtual stage c·P + r, so
// activations travel rank 0 → 1 → … → P−1 and wrap around to rank 0's next chunk. The order of
// forward and backward passes is interleaved_schedule() (parallel/pipeline_schedule.h).
//
// Exchanges: in lock step, as Megatron's interleaved schedule does them (batched p2p): the
// schedule is cut into steps (interleaved_lockstep_plan, parallel/pipeline_lockstep.h, which
// explains why they match), and at each step the rank makes one exchange() with its two ring
// neighbours, sending what its previous round produced and receiving what its coming rounds
// need. Activations and gradients travel as [s(/tp with SP), b, h] tensors in the chunks'
// compute dtype on their device, over the pipeline group's tensor communicator (NCCL for CUDA
// tensors, MPI on CPU).
// As in the non-interleaved executor, each chunk keeps every micro-batch's activations from its
// forward to its backward in a per-micro-batch stash; no forward runs twice.
#include <functional>
#include <vector>

#include "core/comm/communicator.h"
#include "core/model/gpt_model.h"
#include "parallel/pipeline_executor.h"

namespace mcpp::parallel {

struct InterleavedIteration {
  // Micro-batches, activation shape and dropout steps; its before_last_backward is not used.
  PipelineIteration pipeline;
  int group_size = 0;  // --microbatch-group-size-per-virtual-pipeline-stage (0: pipeline size)
  // Called right before the last backward of each chunk (its grad sync may start then); may be empty.
  std::function<void(int chunk)> before_last_backward;
};

// `chunks`: this rank's model chunks in order (chunk c holds virtual stage c·P + r); `pp`: the
// pipeline group's communicator for the chunks' tensors (its rank is the pipeline rank). Returns
// (Σ loss_sum, Σ num_tokens) on the last virtual stage's rank, {0, 0} elsewhere; gradients
// accumulate in every chunk (the loss scaled by last_stage_loss_grad_scale()).
model::LossPair run_interleaved_one_f_one_b(const std::vector<model::GPTModel*>& chunks, comm::Communicator& pp,
                                            const InterleavedIteration& iteration);

// Forward only, one micro-batch through every virtual stage in order (evaluation). Works for
// one chunk per rank too. Returns the loss on the last virtual stage's rank, {0, 0} elsewhere.
model::LossPair forward_through_pipeline(const std::vector<model::GPTModel*>& chunks, comm::Communicator& pp,
                                         const model::MicroBatch& batch, const Shape& activation_shape);

}  // namespace mcpp::parallel
