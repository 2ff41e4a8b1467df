#include "app/checkpoint_layout.h"

#include <algorithm>

namespace mcpp::app {
namespace {

bool is_vocab_matrix(const std::string& key) {
  return key == "embedding.word_embeddings.weight" || key == "output_layer.weight";
}

}  // namespace

std::vector<StoredPiece> stored_pieces(const model::ParamInfo& info, int64_t vocab_size) {
  const int64_t local_rows = info.local_shape.empty() ? 1 : info.local_shape[0];
  std::vector<StoredPiece> pieces;

  if (info.tp_chunks > 1) {
    // Chunked along dimension 0 (SwiGLU [gate ; up]): each chunk its own tensor.
    const char* names[2] = {".gate", ".up"};
    const int64_t local_chunk = local_rows / info.tp_chunks;
    for (int c = 0; c < info.tp_chunks; ++c) {
      StoredPiece piece;
      piece.key = info.key + (info.tp_chunks == 2 ? names[c] : "." + std::to_string(c));
      piece.global_shape = info.global_shape;
      piece.global_shape[0] /= info.tp_chunks;
      piece.offsets = info.offsets;
      piece.shape = info.local_shape;
      piece.shape[0] = local_chunk;
      piece.local_row_begin = c * local_chunk;
      piece.local_row_end = (c + 1) * local_chunk;
      pieces.push_back(std::move(piece));
    }
    return pieces;
  }

  if (is_vocab_matrix(info.key) && vocab_size < info.global_shape[0]) {
    // Rows [offsets[0], offsets[0] + local_rows) of the padded matrix: split at V.
    const int64_t first = info.offsets[0];
    const int64_t last = first + local_rows;
    if (first < vocab_size) {
      StoredPiece piece;
      piece.key = info.key;
      piece.global_shape = info.global_shape;
      piece.global_shape[0] = vocab_size;
      piece.offsets = info.offsets;
      piece.shape = info.local_shape;
      piece.shape[0] = std::min(last, vocab_size) - first;
      piece.local_row_begin = 0;
      piece.local_row_end = piece.shape[0];
      pieces.push_back(std::move(piece));
    }
    if (last > vocab_size) {
      StoredPiece piece;
      piece.key = info.key + ".padding";
      piece.global_shape = info.global_shape;
      piece.global_shape[0] = info.global_shape[0] - vocab_size;
      piece.offsets = info.offsets;
      piece.offsets[0] = std::max(first, vocab_size) - vocab_size;
      piece.shape = info.local_shape;
      piece.shape[0] = last - std::max(first, vocab_size);
      piece.local_row_begin = std::max(first, vocab_size) - first;
      piece.local_row_end = local_rows;
      piece.is_padding = true;
      pieces.push_back(std::move(piece));
    }
    return pieces;
  }

  StoredPiece piece;
  piece.key = info.key;
  piece.global_shape = info.global_shape;
  piece.offsets = info.offsets;
  piece.shape = info.local_shape;
  piece.local_row_begin = 0;
  piece.local_row_end = local_rows;
  pieces.push_back(std::move(piece));
  return pieces;
}

}  // namespace mcpp::app
