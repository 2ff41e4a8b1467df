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

}  // namespace mcpp::app
