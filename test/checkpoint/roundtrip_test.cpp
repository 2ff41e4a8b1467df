#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "checkpoint/format.h"
#include "test/checkpoint/checkpoint_test_util.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using namespace mcpp::ckpt;
using namespace mcpp::ckpt::test;

TEST_CASE("many fp32/bf16/int tensors of random shapes round-trip exactly") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-roundtrip");
  std::mt19937_64 rng(1234);
  std::map<std::string, HostTensor> saved;
  const DType types[] = {DType::kFloat32, DType::kBFloat16, DType::kFloat16, DType::kInt64, DType::kUInt8};
  for (int i = 0; i < 60; ++i) {
    int rank = int(rng() % 4);  // 0-d scalars to 3-d
    Shape shape;
    for (int d = 0; d < rank; ++d) shape.push_back(int64_t(rng() % 9) + (i == 7 ? 0 : 1));
    saved["decoder.layers." + std::to_string(i) + ".mlp.linear_fc1.weight"] =
        random_tensor(types[rng() % 5], shape, rng);
  }
  {
    CheckpointWriter writer(dir, 100);
    for (const auto& [key, t] : saved) writer.add_whole(key, t.dtype, t.shape, t.bytes.data());
    writer.commit();
  }
  CheckpointReader reader = CheckpointReader::open(dir);
  REQUIRE(reader.iteration() == 100);
  REQUIRE(reader.tensors().size() == saved.size());
  for (const auto& [key, t] : saved) {
    INFO(key);
    const TensorInfo& info = reader.info(key);
    REQUIRE(info.dtype == t.dtype);
    REQUIRE(info.global_shape == t.shape);
    reader.check_shape(key, t.shape);
    std::vector<uint8_t> out(t.bytes.size());
    reader.read_whole(key, t.dtype, out.data());
    REQUIRE(out == t.bytes);
  }
}

TEST_CASE("reads convert between fp32, bf16 and fp16") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-convert");
  std::mt19937_64 rng(7);
  HostTensor master = random_tensor(DType::kFloat32, {5, 7}, rng);
  HostTensor weight = random_tensor(DType::kBFloat16, {5, 7}, rng);
  {
    CheckpointWriter writer(dir, 3);
    writer.add_whole("optimizer.main_param.w", master.dtype, master.shape, master.bytes.data());
    writer.add_whole("w", weight.dtype, weight.shape, weight.bytes.data());
    writer.commit();
  }
  CheckpointReader reader = CheckpointReader::open(dir);
  for (DType to : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) {
    for (const auto& [key, t] : {std::pair{"optimizer.main_param.w", &master}, std::pair{"w", &weight}}) {
      std::vector<uint8_t> out(size_t(35) * dtype_size(to));
      reader.read_whole(key, to, out.data());
      REQUIRE(out == slice(*t, {0, 0}, {5, 7}, to));
    }
  }
  // bf16 -> fp32 is exact.
  std::vector<float> widened(35);
  reader.read_whole("w", DType::kFloat32, widened.data());
  uint16_t first;
  std::memcpy(&first, weight.bytes.data(), 2);
  REQUIRE(widened[0] == bf16_to_float(first));
  std::vector<int64_t> wrong(35);
  require_error([&] { reader.read_whole("w", DType::kInt64, wrong.data()); }, {"cannot convert", "bfloat16"});
}

TEST_CASE("scalar conversions round to nearest even") {
  REQUIRE(float_to_bf16(1.0f) == 0x3F80);
  REQUIRE(float_to_bf16(bf16_to_float(0x3F81)) == 0x3F81);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0).
  REQUIRE(float_to_bf16(1.00390625f) == 0x3F80);
  REQUIRE(float_to_fp16(1.0f) == 0x3C00);
  REQUIRE(float_to_fp16(65504.f) == 0x7BFF);
  REQUIRE(float_to_fp16(65520.f) == 0x7C00);
  REQUIRE(float_to_fp16(-2.0f) == 0xC000);
  REQUIRE(fp16_to_float(0x0001) == std::ldexp(1.0f, -24));
  REQUIRE(float_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaN payloads need not survive
    REQUIRE(float_to_fp16(fp16_to_float(uint16_t(h))) == h);
  }
  REQUIRE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}

TEST_CASE("common state round-trips") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-common");
  CommonState common;
  common.consumed_train_samples = 123456789012;
  common.consumed_valid_samples = 42;
  common.args = {{"num_layers", 12}, {"hidden_size", 768}, {"tokenizer_type", "GPT2BPETokenizer"}};
  common.state["opt_param_scheduler"] = {{"max_lr", 3e-4}, {"num_steps", 5000}, {"lr_decay_style", "cosine"}};
  common.state["rng"] = {{"seed", 1234}, {"philox_offset", 987654321}};
  common.state["grad_scaler"] = {{"scale", 65536.0}, {"growth_tracker", 3}, {"hysteresis_tracker", 2}};
  {
    CheckpointWriter writer(dir, 5000);
    writer.set_common(common);
    writer.commit();
  }
  CheckpointReader reader = CheckpointReader::open(dir);
  REQUIRE(reader.iteration() == 5000);
  REQUIRE(reader.common().consumed_train_samples == common.consumed_train_samples);
  REQUIRE(reader.common().consumed_valid_samples == 42);
  REQUIRE(reader.common().args == common.args);
  REQUIRE(reader.common().state == common.state);
  REQUIRE(reader.tensors().empty());
}

TEST_CASE("tracker names the newest save, older iterations stay loadable, re-saving replaces") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-tracker");
  REQUIRE_FALSE(latest_iteration(dir).has_value());
  REQUIRE_FALSE(latest_iteration(dir / "missing").has_value());
  auto save = [&](int64_t iteration, float value) {
    CheckpointWriter writer(dir, iteration);
    writer.add_whole("x", DType::kFloat32, {1}, &value);
    writer.commit();
  };
  auto load = [&](std::optional<int64_t> step) {
    CheckpointReader reader = CheckpointReader::open(dir, step);
    float value = 0;
    reader.read_whole("x", DType::kFloat32, &value);
    return std::pair{reader.iteration(), value};
  };
  save(100, 1.f);
  REQUIRE(mcpp::test::read_file(dir / "latest_checkpointed_iteration.txt") == "100");
  REQUIRE(fs::is_directory(dir / "iter_0000100"));
  save(200, 2.f);
  REQUIRE(mcpp::test::read_file(dir / "latest_checkpointed_iteration.txt") == "200");
  REQUIRE(latest_iteration(dir) == 200);
  REQUIRE(load(std::nullopt) == std::pair<int64_t, float>{200, 2.f});
  REQUIRE(load(100) == std::pair<int64_t, float>{100, 1.f});
  save(200, 3.f);  // the same iteration again (e.g. after a resume): replaced as a whole
  REQUIRE(load(std::nullopt) == std::pair<int64_t, float>{200, 3.f});
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    REQUIRE((name == "iter_0000100" || name == "iter_0000200" || name == "latest_checkpointed_iteration.txt"));
  }
  // Megatron's tracker has no newline, but a hand-edited one with whitespace still reads.
  {
    std::ofstream(dir / "latest_checkpointed_iteration.txt") << " 100\n";
  }
  REQUIRE(load(std::nullopt).first == 100);
  REQUIRE(iteration_dir_name(1234567) == "iter_1234567");
}
