// Parameter/gradient buffers (Megatron DDP layout) and Megatron's initialisation.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;


TEST_CASE("buffer holds parameters contiguously in reverse registration order, as views") {
  for (int64_t align : {1, 64}) {
    const auto infos = gpt_param_infos(gpt2_config(), tp_context(0, 1));
    ParamBuffer buffer(infos, DType::F32, Device::CPU, align);
    REQUIRE(buffer.groups().size() == 1);
    const ParamBufferGroup& group = buffer.groups()[0];
    REQUIRE(group.members.size() == infos.size());
    // Reverse registration order, each start aligned, no gaps beyond alignment.
    int64_t end = 0;
    for (size_t k = 0; k < group.members.size(); ++k) {
      const int index = group.members[k];
      CHECK(index == static_cast<int>(infos.size() - 1 - k));
      const int64_t offset = buffer.offset_of(index);
      CHECK(offset % align == 0);
      CHECK(offset >= end);
      CHECK(offset - end < align);
      end = offset + infos[index].local_numel();
      // Views alias the group's storage at that offset.
      CHECK(buffer.param(index).storage() == group.params.storage());
      CHECK(buffer.grad(index).storage() == group.grads.storage());
      CHECK(buffer.param(index).offset() == group.params.offset() + offset);
    }
    CHECK(group.params.numel() == end);
    CHECK(group.grads.dtype() == DType::F32);
    CHECK(buffer.offset_of(buffer.index_of("decoder.final_layernorm.bias")) == 0);
    // A write through the flat buffer shows in the parameter view.
    const int qkv = buffer.index_of("decoder.layers.1.self_attention.linear_qkv.weight");
    group.params.data<float>()[buffer.offset_of(qkv) + 5] = 3.5f;
    CHECK(buffer.param(qkv).data<float>()[5] == 3.5f);
    group.grads.fill(1.0);
    buffer.zero_grads();
    CHECK(buffer.grad(qkv).data<float>()[0] == 0.0f);
    CHECK(buffer.total_numel() <= group.params.numel());
    CHECK(!buffer.ref("output_layer.weight").defined());
    CHECK_THROWS_WITH(buffer.index_of("nope"), "the model has no parameter nope");
  }
}

TEST_CASE("the buffers data parallelism moves come from the layout's allocator") {
  // What the allocator handed out, by dtype: the test's stand-in for the data-parallel group's
  // collective buffers (symmetric windows on NCCL).
  std::vector<Tensor> handed_out;
  BufferLayout layout;
  layout.allocate_communicated = [&](int64_t numel, DType dtype) {
    handed_out.push_back(Tensor::zeros({numel}, dtype));
    return handed_out.back();
  };
  const auto infos = gpt_param_infos(gpt2_config(), tp_context(0, 1));
  SECTION("fp32: the gradients and the main parameters (which the layers read and DP gathers)") {
    ParamBuffer buffer(infos, DType::F32, Device::CPU, layout);
    const ParamBufferGroup& group = buffer.groups()[0];
    REQUIRE(handed_out.size() == 2);
    CHECK(group.params.storage() == handed_out[0].storage());
    CHECK(group.grads.storage() == handed_out[1].storage());
    CHECK(buffer.grad(0).storage() == group.grads.storage());
  }
  SECTION("mixed precision: the gradients and the compute copy; the main parameters stay ordinary") {
    ParamBuffer buffer(infos, DType::F32, Device::CPU, layout, DType::BF16);
    const ParamBufferGroup& group = buffer.groups()[0];
    REQUIRE(handed_out.size() == 2);
    CHECK(group.grads.storage() == handed_out[0].storage());
    CHECK(group.compute_params.storage() == handed_out[1].storage());
    CHECK(handed_out[1].dtype() == DType::BF16);
    CHECK(buffer.compute_param(0).storage() == group.compute_params.storage());
    CHECK(group.params.storage() != handed_out[0].storage());
    CHECK(group.params.storage() != handed_out[1].storage());
  }
}

TEST_CASE("initialisation follows Megatron: N(0, std), scaled output projections, ones, zeros") {
  ModelConfig config = gpt2_config();
  config.hidden = 64;
  config.heads = 4;
  config.num_layers = 4;
  config.ffn_hidden = 0;
  config.padded_vocab_size = 512;
  config.finalize();
  ParamBuffer buffer(gpt_param_infos(config, tp_context(0, 1)), DType::F32, Device::CPU);
  initialize_parameters(buffer, config.seed);
  const double scaled = 0.02 / std::sqrt(2.0 * config.num_layers);
  for (int i = 0; i < buffer.size(); ++i) {
    const ParamInfo& info = buffer.info(i);
    const float* v = buffer.param(i).data<float>();
    const int64_t n = info.local_numel();
    double sum = 0, sq = 0, mn = 1e9, mx = -1e9;
    for (int64_t k = 0; k < n; ++k) {
      sum += v[k];
      sq += double(v[k]) * v[k];
      mn = std::min<double>(mn, v[k]);
      mx = std::max<double>(mx, v[k]);
    }
    const double mean = sum / n, stddev = std::sqrt(sq / n - mean * mean);
    INFO(info.key << " mean " << mean << " std " << stddev);
    switch (info.init) {
      case ParamInit::ones: CHECK((mn == 1.0 && mx == 1.0)); break;
      case ParamInit::zeros: CHECK((mn == 0.0 && mx == 0.0)); break;
      case ParamInit::normal:
      case ParamInit::scaled_normal: {
        // Five standard errors of the sample mean (σ/√n) and sample std (σ/√(2n)).
        const double expected = info.init == ParamInit::normal ? 0.02 : scaled;
        CHECK(std::abs(stddev - expected) < 5 * expected / std::sqrt(2.0 * n));
        CHECK(std::abs(mean) < 5 * expected / std::sqrt(double(n)));
        break;
      }
    }
  }
  // Different parameters draw different values.
  CHECK(buffer.param("decoder.layers.0.mlp.linear_fc1.weight").data<float>()[0] !=
        buffer.param("decoder.layers.1.mlp.linear_fc1.weight").data<float>()[0]);
  // Same seed, same values; another seed, other values.
  ParamBuffer again(gpt_param_infos(config, tp_context(0, 1)), DType::F32, Device::CPU);
  initialize_parameters(again, config.seed);
  CHECK(to_vector(again.groups()[0].params) == to_vector(buffer.groups()[0].params));
  initialize_parameters(again, config.seed + 1);
  CHECK(to_vector(again.groups()[0].params) != to_vector(buffer.groups()[0].params));
}

TEST_CASE("a TP shard's initial values are exactly its slice of the single-rank tensor") {
  for (const ModelConfig& config : {gpt2_config(), llama_config()}) {
    ParamBuffer full(gpt_param_infos(config, tp_context(0, 1)), DType::F32, Device::CPU);
    initialize_parameters(full, config.seed);
    for (int size : {2, 4}) {
      if (config.query_groups % size != 0) continue;
      for (int rank = 0; rank < size; ++rank) {
        ParamBuffer shard(gpt_param_infos(config, tp_context(rank, size)), DType::F32, Device::CPU);
        initialize_parameters(shard, config.seed);
        for (int i = 0; i < shard.size(); ++i) {
          const ParamInfo& info = shard.info(i);
          const float* s = shard.param(i).data<float>();
          const float* f = full.param(info.key).data<float>();
          int64_t mismatches = 0;
          for (int64_t k = 0; k < info.local_numel(); ++k) mismatches += s[k] != f[info.global_index(k)];
          INFO(info.key << " tp " << rank << "/" << size);
          CHECK(mismatches == 0);
        }
      }
    }
  }
}
