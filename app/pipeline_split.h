#pragma once
// The pipeline layer split the flags ask for (--num-layers, --pipeline-model-parallel-size, the
// virtual pipeline size and --decoder-first/last-pipeline-num-layers).
#include "app/train_args.h"
#include "parallel/pipeline_layout.h"

namespace mcpp::app {

// Needs derived.virtual_pipeline_size (validate_parallel sets it).
parallel::PipelineSplit pipeline_split(const TrainArgs& args);

}  // namespace mcpp::app
