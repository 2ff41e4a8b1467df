#include "parallel/finalize_grads.h"

namespace mcpp::parallel {

void all_reduce_embedding_grads(const model::ParamBuffer& params, comm::Communicator* embedding) {
  if (embedding == nullptr || embedding->size() == 1) return;
  // The first stage holds the word embedding, the last its tied copy as the output layer.
  const char* key = params.contains("embedding.word_embeddings.weight") ? "embedding.word_embeddings.weight"
                                                                        : "output_layer.weight";
  embedding->all_reduce(params.grad(key), comm::ReduceOp::sum);
}

}  // namespace mcpp::parallel
