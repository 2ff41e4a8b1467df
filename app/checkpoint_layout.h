#pragma once
// How a parameter shard maps onto the layout-free checkpoint tensors (docs/checkpoint-format.md):
// - a tensor-parallel shard is a region [offsets, offsets + shape) of the global tensor;
// - SwiGLU's fc1 ([gate ; up] chunks, each split over TP) is stored as two tensors,
//   "<key>.gate" and "<key>.up", so that any TP size reads back the right halves;
// - the word embedding and the output layer are stored at the tokenizer's vocabulary size V;
//   the rows Megatron adds to pad the vocabulary go to "<key>.padding" (global [V_pad - V, h]),
//   which only a run with the same padded size loads back (bit-exact resume).
// Every piece is a run of whole rows (dimension 0) of the local shard, so it is contiguous.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/train_args.h"
#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "core/base/tensor.h"
#include "core/model/param_info.h"

namespace mcpp::app {

struct StoredPiece {
  std::string key;                    // checkpoint tensor name
  std::vector<int64_t> global_shape;  // of that checkpoint tensor
  std::vector<int64_t> offsets;       // of this piece inside it
  std::vector<int64_t> shape;         // of this piece
  int64_t local_row_begin = 0;        // rows [begin, end) of the local shard
  int64_t local_row_end = 0;
  bool is_padding = false;            // vocabulary padding rows (optional on load)
};

// `vocab_size`: the unpadded vocabulary size V.
std::vector<StoredPiece> stored_pieces(const model::ParamInfo& info, int64_t vocab_size);

// Writes the fp32 shard `local` of parameter `info` under `key_prefix` + its checkpoint names.
// A replica that is not the designated writer (`designated_writer` false) stores nothing.
void write_shard(ckpt::CheckpointWriter& writer, const model::ParamInfo& info, int64_t vocab_size,
                 const std::string& key_prefix, const Tensor& local, bool designated_writer = true);

// Reads the shard of parameter `info` (under `key_prefix`) into `local`. Vocabulary padding rows
// saved at another padded size are left as they are; returns false when that happened.
bool read_shard(const ckpt::CheckpointReader& reader, const model::ParamInfo& info, int64_t vocab_size,
                const std::string& key_prefix, const Tensor& local);

// The flags a checkpoint must agree with to be loaded and that `generate` rebuilds the model and
// tokenizer from, in --config form ({"num-layers": 2, "swiglu": true, ...}).
nlohmann::json args_snapshot(const TrainArgs& args, int64_t vocab_size);

// The snapshot as command-line flags ("--num-layers", "2", "--swiglu", ...).
std::vector<std::string> snapshot_flags(const nlohmann::json& snapshot);

// Throws a one-line error naming the first architecture flag that differs.
void check_architecture(const nlohmann::json& saved, const nlohmann::json& current, const std::string& where);

}  // namespace mcpp::app
