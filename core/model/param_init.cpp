// Megatron's initialisation: N(0, init_method_std) for weights, std / sqrt(2 * num_layers) for the
// output projections (linear_proj, linear_fc2), ones for norm weights, zeros for biases. Values
// are a pure function of (seed, parameter key, GLOBAL element index): every TP shard holds
// exactly its slice of the single-rank tensor, on CPU and GPU alike.
#include "core/kernels/random_init.h"
#include "core/model/param_buffer.h"
#include "core/model/random_streams.h"

namespace mcpp::model {

void initialize_parameters(const ParamBuffer& buffer, uint64_t seed) {
  for (int i = 0; i < buffer.size(); ++i) {
    const ParamInfo& info = buffer.info(i);
    const Tensor& param = buffer.param(i);
    switch (info.init) {
      case ParamInit::ones: param.fill(1.0); continue;
      case ParamInit::zeros: param.fill(0.0); continue;
      case ParamInit::normal:
      case ParamInit::scaled_normal: break;
    }
    const PhiloxStream rng{seed, parameter_stream(info.init_key.empty() ? info.key : info.init_key), 0};
    const Shape full = info.global_tensor_shape();
    if (info.tp_split_dim <= 0) {
      // Replicated, or split along dim 0: each chunk is a block of rows of the global tensor.
      const int chunks = info.tp_chunks;
      const int64_t local_rows = info.local_shape[0] / chunks;
      const int64_t global_rows = info.global_shape[0] / chunks;
      for (int c = 0; c < chunks; ++c) {
        Shape start = ParamInfo::to_shape(info.offsets);
        start[0] = c * global_rows + info.offsets[0];
        core::init_normal(param.slice(c * local_rows, (c + 1) * local_rows), 0.0f,
                          static_cast<float>(info.init_std), rng, full, start);
      }
    } else {
      core::init_normal(param, 0.0f, static_cast<float>(info.init_std), rng, full,
                        ParamInfo::to_shape(info.offsets));
    }
  }
}

}  // namespace mcpp::model
