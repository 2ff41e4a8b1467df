#include "app/checkpoint_layout.h"

#include <algorithm>

#include "core/base/error.h"

namespace mcpp::app {
namespace {

// Copies rows [begin, end) of `tensor` (row-major, any rank) as a contiguous host pointer.
float* rows_data(const Tensor& tensor, int64_t row_begin) {
  const int64_t row_elems = tensor.shape().rank() <= 1 ? 1 : tensor.numel() / tensor.dim(0);
  return tensor.data<float>() + row_begin * row_elems;
}

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

void write_shard(ckpt::CheckpointWriter& writer, const model::ParamInfo& info, int64_t vocab_size,
                 const std::string& key_prefix, const Tensor& device_local, bool designated_writer) {
  const Tensor local = device_local.to(Device::CPU);
  for (const StoredPiece& piece : stored_pieces(info, vocab_size)) {
    writer.add(key_prefix + piece.key, ckpt::DType::kFloat32, piece.global_shape, piece.offsets, piece.shape,
               rows_data(local, piece.local_row_begin), designated_writer);
  }
}

bool read_shard(const ckpt::CheckpointReader& reader, const model::ParamInfo& info, int64_t vocab_size,
                const std::string& key_prefix, const Tensor& device_local) {
  // A GPU shard is read into a host copy, then copied over.
  const Tensor local = device_local.to(Device::CPU);
  bool complete = true;
  for (const StoredPiece& piece : stored_pieces(info, vocab_size)) {
    const std::string key = key_prefix + piece.key;
    if (piece.is_padding && !(reader.has(key) && reader.info(key).global_shape == piece.global_shape)) {
      complete = false;  // saved with another vocabulary padding: keep this run's rows
      continue;
    }
    reader.check_shape(key, piece.global_shape);
    reader.read(key, piece.offsets, piece.shape, ckpt::DType::kFloat32, rows_data(local, piece.local_row_begin));
  }
  if (device_local.device() != Device::CPU) device_local.copy_from(local);
  return complete;
}

// The flags a checkpoint must agree with to be loaded, and that `generate` rebuilds the model
// and tokenizer from; the same shape as a --config file.
nlohmann::json args_snapshot(const TrainArgs& args, int64_t vocab_size) {
  const ModelArgs& m = args.model;
  nlohmann::json j;
  j["num-layers"] = *m.num_layers;
  j["hidden-size"] = *m.hidden_size;
  j["ffn-hidden-size"] = args.derived.ffn_hidden_size;
  j["num-attention-heads"] = *m.num_attention_heads;
  j["kv-channels"] = args.derived.kv_channels;
  if (m.group_query_attention) {
    j["group-query-attention"] = true;
    j["num-query-groups"] = m.num_query_groups;
  }
  j["seq-length"] = *m.seq_length;
  j["max-position-embeddings"] = m.max_position_embeddings.value_or(*m.seq_length);
  j["position-embedding-type"] = args.derived.use_rope ? "rope" : "learned_absolute";
  j["rotary-base"] = m.rotary_base;
  j["rotary-percent"] = m.rotary_percent;
  j["normalization"] = m.normalization;
  j["norm-epsilon"] = m.norm_epsilon;
  if (m.swiglu) j["swiglu"] = true;
  if (!m.add_bias_linear) j["disable-bias-linear"] = true;
  if (m.untie_embeddings_and_output_weights) j["untie-embeddings-and-output-weights"] = true;
  j["make-vocab-size-divisible-by"] = m.make_vocab_size_divisible_by;
  j["vocab-size"] = vocab_size;
  j["init-method-std"] = m.init_method_std;
  const DataArgs& d = args.data;
  if (d.tokenizer_type) j["tokenizer-type"] = *d.tokenizer_type;
  if (d.tokenizer_model) j["tokenizer-model"] = std::filesystem::absolute(*d.tokenizer_model).string();
  if (d.vocab_file) j["vocab-file"] = std::filesystem::absolute(*d.vocab_file).string();
  if (d.merge_file) j["merge-file"] = std::filesystem::absolute(*d.merge_file).string();
  if (d.null_tokenizer_eod_id) j["null-tokenizer-eod-id"] = *d.null_tokenizer_eod_id;
  return j;
}

// The architecture keys that must match between the checkpoint and this run.
void check_architecture(const nlohmann::json& saved, const nlohmann::json& current, const std::string& where) {
  for (const char* key : {"num-layers", "hidden-size", "ffn-hidden-size", "num-attention-heads", "kv-channels",
                          "num-query-groups", "position-embedding-type", "normalization", "swiglu",
                          "disable-bias-linear", "untie-embeddings-and-output-weights"}) {
    const nlohmann::json a = saved.contains(key) ? saved[key] : nlohmann::json();
    const nlohmann::json b = current.contains(key) ? current[key] : nlohmann::json();
    check(a == b, where + " was saved with --" + key + " " + (a.is_null() ? "unset" : a.dump()) +
                      " but this run has " + (b.is_null() ? "unset" : b.dump()) +
                      "; use the checkpoint's architecture flags");
  }
}


std::vector<std::string> snapshot_flags(const nlohmann::json& snapshot) {
  std::vector<std::string> flags;
  for (const auto& [key, value] : snapshot.items()) {
    if (value.is_boolean()) {
      if (value.get<bool>()) flags.push_back("--" + key);
      continue;
    }
    flags.push_back("--" + key);
    flags.push_back(value.is_string() ? value.get<std::string>() : value.dump());
  }
  return flags;
}

}  // namespace mcpp::app
