#pragma once
// Which layers keep their activations and which are recomputed in backward, as Megatron's
// --recompute-granularity/--recompute-method/--recompute-num-layers decide.
//   full + uniform: the layers are cut into consecutive chunks of recompute_num_layers; each chunk
//                   keeps only its input and re-runs its whole forward during backward.
//   full + block:   the first recompute_num_layers layers each keep only their input; the rest
//                   keep everything.
//   selective:      every layer keeps its activations except the core attention's internals
//                   (probabilities), which are recomputed from q, k, v in backward.
#include <vector>

#include "core/model/model_config.h"

namespace mcpp::model {

struct RecomputeSegment {
  int begin = 0;  // first layer (local index)
  int end = 0;    // one past the last layer
  bool recompute = false;  // keep only the segment input and re-run its forward in backward
};

// Segments covering layers [0, num_local_layers) in order.
std::vector<RecomputeSegment> recompute_segments(const ModelConfig& config, int num_local_layers);

}  // namespace mcpp::model
