#include "parallel/pipeline_layout.h"

#include <string>

#include "core/base/error.h"

namespace mcpp::parallel {

namespace {

std::string str(int value) { return std::to_string(value); }

bool uneven(const PipelineSplit& s) { return s.first_stage_layers || s.last_stage_layers; }

bool accounts_extra_layers(const PipelineSplit& s) { return s.embedding_in_split || s.loss_in_split; }

// The layer count the split shares out: the transformer layers plus the accounted embedding/loss.
int split_layers(const PipelineSplit& s) { return s.num_layers + int(s.embedding_in_split) + int(s.loss_in_split); }

// The layers and stages left to the middle stages once the first/last overrides are taken out.
struct Middle {
  int layers = 0;
  int stages = 0;
};
Middle middle_of(const PipelineSplit& s) {
  return {s.num_layers - s.first_stage_layers.value_or(0) - s.last_stage_layers.value_or(0),
          s.pp_size - (s.first_stage_layers ? 1 : 0) - (s.last_stage_layers ? 1 : 0)};
}

void check_end_stage(const std::optional<int>& layers, const std::string& flag, const std::string& which, int vp) {
  if (!layers) return;
  check(*layers > 0, flag + " must be larger than 0");
  check(*layers % vp == 0, "number of layers at " + which + " stage (" + flag + " " + str(*layers) +
                               ") must be divisible by the virtual pipeline parallel degree " + str(vp));
}

}  // namespace

void check_pipeline_split(const PipelineSplit& s) {
  check(s.num_layers > 0 && s.pp_size > 0 && s.virtual_size > 0, "internal: empty pipeline split");
  const int vp = s.virtual_size;
  if (accounts_extra_layers(s)) {
    check(!uneven(s), "--account-for-embedding/loss-in-pipeline-split cannot be combined with "
                      "--decoder-first/last-pipeline-num-layers; use one way of shaping the end stages");
    const int layers = split_layers(s);
    check(layers % s.pp_size == 0, "--num-layers " + str(s.num_layers) + " plus the embedding/loss layers (" +
                                       str(layers) + ") is not divisible by --pipeline-model-parallel-size " +
                                       str(s.pp_size));
    check((layers / s.pp_size) % vp == 0, "layers per pipeline stage with the embedding/loss layers (" +
                                              str(layers / s.pp_size) +
                                              ") must be divisible by the number of virtual stages per pipeline rank " +
                                              str(vp));
    return;
  }
  if (!uneven(s)) {
    check(s.num_layers % s.pp_size == 0, "--num-layers " + str(s.num_layers) +
                                             " is not divisible by --pipeline-model-parallel-size " + str(s.pp_size) +
                                             "; use --decoder-first/last-pipeline-num-layers for uneven stages");
    check((s.num_layers / s.pp_size) % vp == 0,
          "number of layers per pipeline stage (" + str(s.num_layers / s.pp_size) +
              ") must be divisible by the number of virtual stages per pipeline rank " + str(vp));
    return;
  }
  check(s.pp_size > 1, "--decoder-first/last-pipeline-num-layers need --pipeline-model-parallel-size > 1");
  // Megatron's interleaved offsets assume a first-stage override whenever there is a last-stage
  // one (without it, ranks 0 and 1 would both start at layer 0).
  check(vp == 1 || s.first_stage_layers || !s.last_stage_layers,
        "--decoder-last-pipeline-num-layers with the interleaved schedule needs --decoder-first-pipeline-num-layers too");
  check_end_stage(s.first_stage_layers, "--decoder-first-pipeline-num-layers", "first", vp);
  check_end_stage(s.last_stage_layers, "--decoder-last-pipeline-num-layers", "last", vp);
  const Middle middle = middle_of(s);
  check(middle.layers >= 0, "--decoder-first/last-pipeline-num-layers exceed --num-layers " + str(s.num_layers));
  // Megatron does not check this case and would silently build fewer layers than --num-layers.
  check(middle.stages > 0 || middle.layers == 0,
        "--decoder-first-pipeline-num-layers plus --decoder-last-pipeline-num-layers must equal --num-layers " +
            str(s.num_layers) + " when --pipeline-model-parallel-size is 2");
  if (middle.stages == 0) return;
  check(middle.layers % middle.stages == 0,
        "--num-layers " + str(s.num_layers) + " minus --decoder-first/last-pipeline-num-layers leaves " +
            str(middle.layers) + " layers, which the " + str(middle.stages) +
            " other pipeline stages cannot share evenly");
  check((middle.layers / middle.stages) % vp == 0,
        "number of layers on each middle pipeline rank (" + str(middle.layers / middle.stages) +
            ") must be divisible by the virtual pipeline parallel degree " + str(vp));
}

LayerRange stage_layer_range(const PipelineSplit& s, int pp_rank, int chunk) {
  check_pipeline_split(s);
  check(pp_rank >= 0 && pp_rank < s.pp_size && chunk >= 0 && chunk < s.virtual_size,
        "internal: pipeline rank or chunk outside the pipeline");
  const int vp = s.virtual_size;
  if (accounts_extra_layers(s)) {
    // Megatron's split of num_layers + 1 (+ 1) layers: the very first virtual stage's share
    // includes the embedding and the very last one's the loss, and every later stage starts one
    // layer earlier when the embedding took a slot.
    const int layers = split_layers(s);
    const int per_chunk = layers / (s.pp_size * vp);
    const bool very_first = pp_rank == 0 && chunk == 0;
    const bool very_last = pp_rank == s.pp_size - 1 && chunk == vp - 1;
    const int offset = chunk * (layers / vp) + pp_rank * per_chunk - (s.embedding_in_split && !very_first ? 1 : 0);
    const int count = per_chunk - (s.embedding_in_split && very_first ? 1 : 0) - (s.loss_in_split && very_last ? 1 : 0);
    return {offset, count};
  }
  if (!uneven(s)) {
    const int per_chunk = s.num_layers / (s.pp_size * vp);
    return {chunk * (s.num_layers / vp) + pp_rank * per_chunk, per_chunk};
  }
  // Per chunk: first-stage, middle-rank and last-stage layer counts. One round of chunks over the
  // pipeline (all ranks' chunk c) covers num_layers / vp layers.
  const Middle middle = middle_of(s);
  const int first = s.first_stage_layers.value_or(0) / vp;
  const int last = s.last_stage_layers.value_or(0) / vp;
  const int per_middle = middle.stages > 0 ? middle.layers / middle.stages / vp : 0;
  const int round = s.num_layers / vp;
  const bool is_first = pp_rank == 0, is_last = pp_rank == s.pp_size - 1;
  int count = per_middle;
  if (is_first && s.first_stage_layers) count = first;
  if (is_last && s.last_stage_layers) count = last;
  // Stages before this one: the first (with its own count when given), then middle ranks.
  const int middle_before = pp_rank - (s.first_stage_layers ? 1 : 0);
  const int offset = is_first ? 0 : first + middle_before * per_middle;
  return {chunk * round + offset, count};
}

LayerRange pipeline_layer_range(int num_layers, int pp_size, int virtual_size, int pp_rank, int chunk) {
  return stage_layer_range(PipelineSplit{num_layers, pp_size, virtual_size, {}, {}}, pp_rank, chunk);
}

}  // namespace mcpp::parallel
