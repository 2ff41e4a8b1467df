#include <catch2/catch.hpp>

#include "core/base/error.h"
#include "core/model/model_config.h"
#include "core/model/recompute_plan.h"

using namespace mcpp::model;

namespace {
ModelConfig small() {
  ModelConfig c;
  c.num_layers = 4;
  c.hidden = 64;
  c.heads = 4;
  c.seq_length = 16;
  c.padded_vocab_size = 128;
  return c;
}
std::string error_of(ModelConfig c, int tp = 1) {
  try {
    c.finalize(tp);
  } catch (const mcpp::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("config derives Megatron defaults") {
  ModelConfig c = small();
  c.finalize();
  CHECK(c.ffn_hidden == 256);
  CHECK(c.kv_channels == 16);
  CHECK(c.query_groups == 4);
  CHECK(c.max_position_embeddings == 16);
  CHECK(c.qkv_rows() == 3 * 64);

  ModelConfig s = small();
  s.swiglu = true;
  s.hidden = 1000;
  s.heads = 8;
  s.finalize();
  CHECK(s.ffn_hidden == 2624);  // int(4*1000*2/3/64)*64
  CHECK(s.fc1_rows() == 2 * 2624);
  CHECK(default_ffn_hidden(4096, true) == 10880);  // int(10922.67/64)*64

  ModelConfig g = small();
  g.query_groups = 2;
  g.finalize();
  CHECK(g.qkv_rows() == 64 + 2 * 32);
  CHECK(g.heads_per_group() == 2);
}

TEST_CASE("config rejects bad flags with one-line messages naming them") {
  ModelConfig c = small();
  c.heads = 7;
  CHECK(error_of(c) == "--num-attention-heads 7 does not divide --hidden-size 64 (or pass --kv-channels)");
  c = small();
  c.query_groups = 3;
  CHECK(error_of(c).find("--num-query-groups 3") == 0);
  c = small();
  c.max_position_embeddings = 8;
  CHECK(error_of(c).find("--max-position-embeddings 8") == 0);
  CHECK(error_of(small(), 3).find("--tensor-model-parallel-size 3") == 0);
  c = small();
  c.recompute = RecomputeGranularity::full;
  CHECK(error_of(c).find("--recompute-granularity full needs --recompute-method") == 0);
  c.recompute_method = RecomputeMethod::uniform;
  c.recompute_num_layers = 5;
  CHECK(error_of(c).find("--recompute-num-layers 5") == 0);
  c = small();
  c.num_layers = 0;
  CHECK(error_of(c).find("--num-layers") == 0);
  CHECK(error_of(small()).empty());
}

TEST_CASE("recompute segments follow uniform and block methods") {
  ModelConfig c = small();
  c.num_layers = 5;
  c.recompute = RecomputeGranularity::full;
  c.recompute_method = RecomputeMethod::uniform;
  c.recompute_num_layers = 2;
  auto u = recompute_segments(c, 5);
  REQUIRE(u.size() == 3);
  CHECK((u[0].begin == 0 && u[0].end == 2 && u[0].recompute));
  CHECK((u[2].begin == 4 && u[2].end == 5 && u[2].recompute));
  c.recompute_method = RecomputeMethod::block;
  auto b = recompute_segments(c, 5);
  REQUIRE(b.size() == 5);
  CHECK((b[0].recompute && b[1].recompute && !b[2].recompute && !b[4].recompute));
  c.recompute = RecomputeGranularity::none;
  c.recompute_method = RecomputeMethod::none;
  for (auto& s : recompute_segments(c, 5)) CHECK(!s.recompute);
}
