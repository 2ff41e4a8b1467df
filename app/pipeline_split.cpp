#include "app/pipeline_split.h"

namespace mcpp::app {

parallel::PipelineSplit pipeline_split(const TrainArgs& args) {
  const ParallelArgs& p = args.parallel;
  parallel::PipelineSplit split;
  split.num_layers = static_cast<int>(args.model.num_layers.value_or(0));
  split.pp_size = static_cast<int>(p.pipeline_model_parallel_size);
  split.virtual_size = static_cast<int>(args.derived.virtual_pipeline_size);
  if (p.decoder_first_pipeline_num_layers) split.first_stage_layers = static_cast<int>(*p.decoder_first_pipeline_num_layers);
  if (p.decoder_last_pipeline_num_layers) split.last_stage_layers = static_cast<int>(*p.decoder_last_pipeline_num_layers);
  split.embedding_in_split = p.account_for_embedding_in_pipeline_split;
  split.loss_in_split = p.account_for_loss_in_pipeline_split;
  return split;
}

}  // namespace mcpp::app
