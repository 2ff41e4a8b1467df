#pragma once
// The validated flags in the terms of the other modules: the tokenizer options, the model
// architecture and the GPT dataset configuration.
#include <cstdint>

#include "app/train_args.h"
#include "core/model/model_config.h"
#include "data/gpt/builder.h"
#include "data/gpt/gpt_data_config.h"
#include "data/tokenizers/tokenizer.h"

namespace mcpp::app {

// --tokenizer-type and friends; nullopt when no tokenizer is configured (mock data).
std::optional<data::TokenizerOptions> tokenizer_options(const TrainArgs& args);

// Needs validate_train_args() with a known vocabulary (args.derived.padded_vocab_size > 0).
model::ModelConfig model_config(const TrainArgs& args, const std::string& device = "cpu");

// --data-path / --split / per-split paths / --mock-data / reset and mask flags. `tokenizer`
// supplies EOD and pad ids; without one (mock data) EOD is the last id of --vocab-size.
data::GptDataConfig data_config(const TrainArgs& args, const data::Tokenizer* tokenizer);

// Samples each split must provide (compat §2.1): train = train-samples or iters·gbs;
// valid = (iters // eval-interval + 1)·eval-iters·gbs; test = eval-iters·gbs.
data::SplitSampleCounts split_sample_counts(const TrainArgs& args);

}  // namespace mcpp::app
