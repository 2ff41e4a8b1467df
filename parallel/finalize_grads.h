#pragma once
// What Megatron's finalize_model_grads does after the data-parallel reduction (compat §6.3
// step 3) across pipeline stages: the tied word-embedding gradient is SUM-all-reduced over the
// embedding group (first and last pipeline stage). The TP all-reduce of sequence-parallel
// parameters' gradients is GPTModel::reduce_sequence_parallel_grads().
#include "core/comm/communicator.h"
#include "core/model/param_buffer.h"

namespace mcpp::parallel {

// `embedding` may be null (a middle pipeline stage, or a single stage): no-op then. Reduces the
// word embedding on the first stage and its output-layer copy on the last.
void all_reduce_embedding_grads(const model::ParamBuffer& params, comm::Communicator* embedding);

}  // namespace mcpp::parallel
