#pragma once
// What Megatron's finalize_model_grads does after the data-parallel reduction (compat §6.3
// step 3), for the parts this runtime has: gradients of parameters replicated over TP but fed
// only s/tp tokens under --sequence-parallel (norms, row-parallel biases) are SUM-all-reduced
// over the TP group; the tied word-embedding gradient is SUM-all-reduced over the embedding group
// (first and last pipeline stage).
#include "core/comm/communicator.h"
#include "core/model/param_buffer.h"

namespace mcpp::parallel {

// No-op when tp has one rank or no parameter is flagged sequence_parallel.
void all_reduce_sequence_parallel_grads(const model::ParamBuffer& params, comm::Communicator& tp);

// `embedding` may be null (a middle pipeline stage, or a single stage): no-op then. Reduces the
// word embedding on the first stage and its output-layer copy on the last.
void all_reduce_embedding_grads(const model::ParamBuffer& params, comm::Communicator* embedding);

}  // namespace mcpp::parallel
