#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint_writer.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using namespace mcpp::ckpt;

TEST_CASE("inspect-checkpoint lists tensors and verifies CRCs") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-inspect");
  std::vector<float> values(24, 1.5f);
  {
    CheckpointWriter writer(dir, 40);
    writer.add_whole("decoder.layers.0.mlp.linear_fc2.weight", DType::kFloat32, {4, 6}, values.data());
    CommonState common;
    common.consumed_train_samples = 320;
    common.args = {{"hidden_size", 6}};
    writer.set_common(common);
    writer.commit();
  }
  std::string tool = mcpp::test::program("inspect-checkpoint").string();
  auto result = mcpp::test::run(tool + " " + dir.string() + " --verify --args");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("iteration: 40") != std::string::npos);
  CHECK(result.output.find("train 320") != std::string::npos);
  CHECK(result.output.find("decoder.layers.0.mlp.linear_fc2.weight") != std::string::npos);
  CHECK(result.output.find("[4, 6]") != std::string::npos);
  CHECK(result.output.find("\"hidden_size\": 6") != std::string::npos);
  CHECK(result.output.find("verified") != std::string::npos);

  {
    std::fstream file(dir / "iter_0000040" / "rank_0.bin", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(5);
    file.put('\x77');
  }
  result = mcpp::test::run(tool + " " + dir.string() + " --verify");
  INFO(result.output);
  REQUIRE(result.exit_code == 1);
  CHECK(result.output.find("error: CRC mismatch") != std::string::npos);
  result = mcpp::test::run(tool + " " + (dir / "nowhere").string());
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("does not exist") != std::string::npos);
}
