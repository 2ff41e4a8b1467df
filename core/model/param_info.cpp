#include "core/model/param_info.h"

#include <cmath>
#include <string>

#include "core/base/error.h"

namespace mcpp::model {

int64_t ParamInfo::local_numel() const {
  int64_t n = 1;
  for (int64_t d : local_shape) n *= d;
  return n;
}

int64_t ParamInfo::global_numel() const {
  int64_t n = 1;
  for (int64_t d : global_shape) n *= d;
  return n;
}

Shape ParamInfo::to_shape(const std::vector<int64_t>& dims) {
  Shape shape;
  for (int64_t d : dims) shape.push_back(d);
  return shape;
}

int64_t ParamInfo::global_index(int64_t local) const {
  // Unravel the local index, move the split coordinate into the global tensor, ravel again.
  const int rank = static_cast<int>(local_shape.size());
  std::vector<int64_t> coord(rank);
  for (int d = rank - 1; d >= 0; --d) {
    coord[d] = local % local_shape[d];
    local /= local_shape[d];
  }
  if (tp_split_dim >= 0) {
    const int d = tp_split_dim;
    const int64_t local_chunk = local_shape[d] / tp_chunks;
    const int64_t global_chunk = global_shape[d] / tp_chunks;
    coord[d] = (coord[d] / local_chunk) * global_chunk + offsets[d] + coord[d] % local_chunk;
  }
  int64_t global = 0;
  for (int d = 0; d < rank; ++d) global = global * global_shape[d] + coord[d];
  return global;
}

namespace {

class InfoBuilder {
 public:
  InfoBuilder(const ParallelContext& parallel, std::vector<ParamInfo>& out)
      : parallel_(parallel), out_(out) {}

  // A replicated parameter (same on every TP rank).
  void replicated(std::string key, std::vector<int64_t> shape, ParamInit init, double std,
                  bool sequence_parallel = false) {
    ParamInfo info = base(std::move(key), shape, init, std);
    info.local_shape = shape;
    info.sequence_parallel = sequence_parallel;
    out_.push_back(std::move(info));
  }

  // A parameter split evenly along `dim` (chunk by chunk when chunks > 1).
  void split(std::string key, std::vector<int64_t> shape, int dim, int chunks, ParamInit init,
             double std) {
    ParamInfo info = base(std::move(key), shape, init, std);
    const int64_t per_chunk = shape[dim] / chunks;
    check(per_chunk % parallel_.tp_size == 0,
          "tensor-parallel size " + std::to_string(parallel_.tp_size) + " does not divide " +
              info.key + " dimension " + std::to_string(shape[dim]));
    const int64_t shard = per_chunk / parallel_.tp_size;
    info.local_shape = shape;
    info.local_shape[dim] = shard * chunks;
    info.tp_split_dim = dim;
    info.tp_chunks = chunks;
    info.offsets[dim] = shard * parallel_.tp_rank;
    out_.push_back(std::move(info));
  }

 private:
  static ParamInfo base(std::string key, const std::vector<int64_t>& shape, ParamInit init,
                        double std) {
    ParamInfo info;
    info.key = std::move(key);
    info.global_shape = shape;
    info.offsets.assign(shape.size(), 0);
    info.init = init;
    info.init_std = std;
    const bool is_bias = info.key.size() >= 5 && info.key.compare(info.key.size() - 5, 5, ".bias") == 0;
    info.no_weight_decay = is_bias || shape.size() == 1;
    return info;
  }

  const ParallelContext& parallel_;
  std::vector<ParamInfo>& out_;
};

}  // namespace

std::vector<ParamInfo> gpt_param_infos(const ModelConfig& c, const ParallelContext& parallel) {
  std::vector<ParamInfo> infos;
  InfoBuilder add(parallel, infos);
  const double std = c.init_method_std;
  const double scaled_std = std / std::sqrt(2.0 * c.num_layers);
  const int64_t h = c.hidden;
  const bool sp = parallel.sequence_parallel && parallel.tp_size > 1;  // Megatron drops SP at tp = 1
  const bool layernorm = c.normalization == Normalization::LayerNorm;

  auto norm = [&](const std::string& prefix) {
    add.replicated(prefix + ".weight", {h}, ParamInit::ones, 0, sp);
    if (layernorm) add.replicated(prefix + ".bias", {h}, ParamInit::zeros, 0, sp);
  };
  // Column-parallel: output rows split (chunk by chunk), bias split with them.
  auto column = [&](const std::string& prefix, int64_t rows, int chunks, ParamInit init, double s) {
    add.split(prefix + ".weight", {rows, h}, 0, chunks, init, s);
    if (c.add_bias_linear) add.split(prefix + ".bias", {rows}, 0, chunks, ParamInit::zeros, 0);
  };
  // Row-parallel: input columns split; the bias is added after the reduction, so replicated.
  auto row = [&](const std::string& prefix, int64_t cols, ParamInit init, double s) {
    add.split(prefix + ".weight", {h, cols}, 1, 1, init, s);
    if (c.add_bias_linear) add.replicated(prefix + ".bias", {h}, ParamInit::zeros, 0, sp);
  };

  add.split("embedding.word_embeddings.weight", {c.padded_vocab_size, h}, 0, 1, ParamInit::normal, std);
  if (c.position_embedding == PositionEmbedding::learned_absolute)
    add.replicated("embedding.position_embeddings.weight", {c.max_position_embeddings, h},
                   ParamInit::normal, std);
  for (int layer = 0; layer < c.num_layers; ++layer) {
    const std::string prefix = "decoder.layers." + std::to_string(layer) + ".";
    norm(prefix + "input_layernorm");
    // Megatron's Attention registers linear_proj before SelfAttention adds linear_qkv.
    row(prefix + "self_attention.linear_proj", c.q_width(), ParamInit::scaled_normal, scaled_std);
    column(prefix + "self_attention.linear_qkv", c.qkv_rows(), 1, ParamInit::normal, std);
    norm(prefix + "pre_mlp_layernorm");
    column(prefix + "mlp.linear_fc1", c.fc1_rows(), c.swiglu ? 2 : 1, ParamInit::normal, std);
    row(prefix + "mlp.linear_fc2", c.ffn_hidden, ParamInit::scaled_normal, scaled_std);
  }
  norm("decoder.final_layernorm");
  if (c.untie_embeddings)
    add.split("output_layer.weight", {c.padded_vocab_size, h}, 0, 1, ParamInit::normal, std);
  return infos;
}

}  // namespace mcpp::model
