#pragma once
// Which transformer layers each pipeline stage holds (Megatron's get_num_layers_to_build and
// get_transformer_layer_offset, compat §5.3). Layers are numbered globally, so a model chunk's
// parameters keep the keys they have in the whole model and checkpoints stay layout-free.
//
// Even split: L / (P·vp) layers per chunk; chunk c of pipeline rank r starts at c·L/vp + r·L/(P·vp).
// Uneven split (--decoder-first/last-pipeline-num-layers): the first and/or last stage get the
// given counts and the remaining layers are shared evenly by the other ("middle") stages.
#include <optional>

namespace mcpp::parallel {

struct PipelineSplit {
  int num_layers = 1;
  int pp_size = 1;
  int virtual_size = 1;                   // model chunks per pipeline rank
  std::optional<int> first_stage_layers;  // --decoder-first-pipeline-num-layers
  std::optional<int> last_stage_layers;   // --decoder-last-pipeline-num-layers
  // --account-for-embedding/loss-in-pipeline-split: the embedding (loss) counts as one layer of
  // the first (last) virtual stage when the layers are shared out, so that stage builds one
  // transformer layer less.
  bool embedding_in_split = false;
  bool loss_in_split = false;
};

// Megatron's consistency checks (TransformerConfig), as one-line errors naming the flags.
void check_pipeline_split(const PipelineSplit& split);

struct LayerRange {
  int first = 0;
  int count = 0;
};
// Layers [first, first + count) of model chunk `chunk` on pipeline rank `pp_rank`.
LayerRange stage_layer_range(const PipelineSplit& split, int pp_rank, int chunk);

// The even split without first/last overrides.
LayerRange pipeline_layer_range(int num_layers, int pp_size, int virtual_size, int pp_rank, int chunk);

}  // namespace mcpp::parallel
