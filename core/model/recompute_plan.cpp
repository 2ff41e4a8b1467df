#include "core/model/recompute_plan.h"

#include <algorithm>

namespace mcpp::model {

std::vector<RecomputeSegment> recompute_segments(const ModelConfig& config, int num_local_layers) {
  std::vector<RecomputeSegment> segments;
  const bool full = config.recompute == RecomputeGranularity::full;
  if (full && config.recompute_method == RecomputeMethod::uniform) {
    const int chunk = std::max(1, config.recompute_num_layers);
    for (int begin = 0; begin < num_local_layers; begin += chunk)
      segments.push_back({begin, std::min(begin + chunk, num_local_layers), true});
    return segments;
  }
  for (int layer = 0; layer < num_local_layers; ++layer) {
    const bool recompute = full && config.recompute_method == RecomputeMethod::block &&
                           layer < config.recompute_num_layers;
    segments.push_back({layer, layer + 1, recompute});
  }
  return segments;
}

}  // namespace mcpp::model
