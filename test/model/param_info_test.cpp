#include <catch2/catch.hpp>

#include <set>

#include "core/model/param_info.h"
#include "model_test_util.h"

using namespace mcpp::model;
using namespace mcpp::model::testing;


TEST_CASE("parameter keys follow Megatron's registration order") {
  auto infos = gpt_param_infos(gpt2_config(), tp_context(0, 1));
  std::vector<std::string> keys;
  for (auto& i : infos) keys.push_back(i.key);
  REQUIRE(keys.size() == 2 + 2 * 12 + 2);
  CHECK(keys[0] == "embedding.word_embeddings.weight");
  CHECK(keys[1] == "embedding.position_embeddings.weight");
  CHECK(keys[2] == "decoder.layers.0.input_layernorm.weight");
  CHECK(keys[3] == "decoder.layers.0.input_layernorm.bias");
  CHECK(keys[4] == "decoder.layers.0.self_attention.linear_proj.weight");
  CHECK(keys[6] == "decoder.layers.0.self_attention.linear_qkv.weight");
  CHECK(keys[8] == "decoder.layers.0.pre_mlp_layernorm.weight");
  CHECK(keys[10] == "decoder.layers.0.mlp.linear_fc1.weight");
  CHECK(keys[12] == "decoder.layers.0.mlp.linear_fc2.weight");
  CHECK(keys[13] == "decoder.layers.0.mlp.linear_fc2.bias");
  CHECK(keys[14] == "decoder.layers.1.input_layernorm.weight");
  CHECK(keys.back() == "decoder.final_layernorm.bias");
  for (auto& i : infos) {
    CHECK(i.no_weight_decay == (i.global_shape.size() == 1));
    if (i.key.find("linear_proj.weight") != std::string::npos ||
        i.key.find("linear_fc2.weight") != std::string::npos)
      CHECK(i.init == ParamInit::scaled_normal);
  }

  auto llama = gpt_param_infos(llama_config(), tp_context(0, 1));
  std::set<std::string> lk;
  for (auto& i : llama) lk.insert(i.key);
  CHECK(lk.count("output_layer.weight") == 1);
  CHECK(lk.count("embedding.position_embeddings.weight") == 0);
  CHECK(lk.count("decoder.layers.0.input_layernorm.bias") == 0);
  CHECK(lk.count("decoder.layers.1.mlp.linear_fc1.bias") == 0);
  CHECK(llama.size() == 1 + 2 * 6 + 1 + 1);
}

TEST_CASE("TP shards tile the global tensors exactly once") {
  for (const ModelConfig& c : {gpt2_config(), llama_config()}) {
    auto full = gpt_param_infos(c, tp_context(0, 1));
    const int size = 2;
    std::vector<std::vector<ParamInfo>> shards;
    for (int r = 0; r < size; ++r) shards.push_back(gpt_param_infos(c, tp_context(r, size)));
    for (size_t p = 0; p < full.size(); ++p) {
      std::vector<int> hits(full[p].global_numel(), 0);
      for (int r = 0; r < size; ++r) {
        const ParamInfo& s = shards[r][p];
        REQUIRE(s.key == full[p].key);
        for (int64_t i = 0; i < s.local_numel(); ++i) hits[s.global_index(i)] += 1;
      }
      const int expected = full[p].tp_split_dim >= 0 ? 1 : size;
      for (int h : hits) REQUIRE(h == expected);
    }
  }
}

TEST_CASE("SwiGLU fc1 shard is [gate_shard ; up_shard] and QKV splits whole query groups") {
  ModelConfig c = llama_config();  // ffn 24, 2 query groups, 2 heads per group, d = 4
  auto r1 = gpt_param_infos(c, tp_context(1, 2));
  const ParamInfo* fc1 = nullptr;
  const ParamInfo* qkv = nullptr;
  for (auto& i : r1) {
    if (i.key == "decoder.layers.0.mlp.linear_fc1.weight") fc1 = &i;
    if (i.key == "decoder.layers.0.self_attention.linear_qkv.weight") qkv = &i;
  }
  REQUIRE(fc1);
  REQUIRE(qkv);
  CHECK(fc1->local_shape == std::vector<int64_t>{24, 16});
  // Local row 0 = gate row 12; local row 12 = up row 24 + 12 = 36.
  CHECK(fc1->global_index(0) == 12 * 16);
  CHECK(fc1->global_index(12 * 16) == 36 * 16);
  // One group = 2*4 q + 4 k + 4 v = 16 rows; rank 1 holds group 1 = global rows 16..31.
  CHECK(qkv->local_shape == std::vector<int64_t>{16, 16});
  CHECK(qkv->global_index(0) == 16 * 16);
}
