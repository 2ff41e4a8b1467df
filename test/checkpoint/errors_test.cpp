// Every way a checkpoint can be wrong gives a one-line error naming the path and the fix.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "test/checkpoint/checkpoint_test_util.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using namespace mcpp::ckpt;
using namespace mcpp::ckpt::test;

namespace {

const Shape kShape{16, 8};

// A valid checkpoint at iteration 7 holding "w" (fp32 [16, 8]); returns the save directory.
fs::path good_checkpoint(const std::string& tag) {
  fs::path dir = mcpp::test::scratch_dir(tag);
  std::vector<float> values(128);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i);
  CheckpointWriter writer(dir, 7);
  writer.add_whole("w", DType::kFloat32, kShape, values.data());
  writer.commit();
  return dir;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("missing directory, tracker or iteration") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-err");
  require_error([&] { CheckpointReader::open(dir / "nope"); }, {"nope", "does not exist"});
  require_error([&] { CheckpointReader::open(dir); }, {dir.string(), "latest_checkpointed_iteration.txt", "--ckpt-step"});
  write_text(dir / "latest_checkpointed_iteration.txt", "iter_100");
  require_error([&] { CheckpointReader::open(dir); }, {"latest_checkpointed_iteration.txt", "'iter_100'", "not an iteration number"});
  require_error([&] { latest_iteration(dir); }, {"not an iteration number"});
  write_text(dir / "latest_checkpointed_iteration.txt", "");
  require_error([&] { CheckpointReader::open(dir); }, {"not an iteration number"});
  write_text(dir / "latest_checkpointed_iteration.txt", "300");
  require_error([&] { CheckpointReader::open(dir); }, {"iter_0000300", "does not exist", "--ckpt-step"});
  fs::path good = good_checkpoint("ckpt-err");
  require_error([&] { CheckpointReader::open(good, 8); }, {"iter_0000008", "does not exist"});
  require_error([&] { CheckpointReader::open(good / "iter_0000007"); }, {"single iteration", "parent"});
}

TEST_CASE("missing key, shape mismatch, bad region") {
  fs::path dir = good_checkpoint("ckpt-err");
  CheckpointReader reader = CheckpointReader::open(dir);
  float out[128];
  require_error([&] { reader.read_whole("decoder.layers.0.mlp.linear_fc2.weight", DType::kFloat32, out); },
                {"'decoder.layers.0.mlp.linear_fc2.weight'", "not in checkpoint", "iter_0000007"});
  require_error([&] { reader.check_shape("w", {16, 9}); }, {"'w'", "[16, 8]", "expects [16, 9]"});
  require_error([&] { reader.check_shape("missing", {1}); }, {"not in checkpoint"});
  require_error([&] { reader.read("w", {10, 0}, {8, 8}, DType::kFloat32, out); }, {"'w'", "outside the global shape"});
  require_error([&] { reader.read("w", {0}, {8}, DType::kFloat32, out); }, {"'w'", "dimensions"});
}

TEST_CASE("a region no rank saved is reported") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-err");
  std::vector<float> half(64, 1.f);
  CheckpointWriter rank0(dir, 1, SaveOptions{0, 2, [] {}});
  CheckpointWriter rank1(dir, 1, SaveOptions{1, 2, [] {}});
  rank0.add("w", DType::kFloat32, kShape, {0, 0}, {8, 8}, half.data());  // rows 8..15 never saved
  rank1.commit();
  rank0.commit();
  CheckpointReader reader = CheckpointReader::open(dir);
  float out[128];
  reader.read("w", {2, 0}, {6, 8}, DType::kFloat32, out);  // inside the saved half: fine
  require_error([&] { reader.read("w", {6, 0}, {4, 8}, DType::kFloat32, out); },
                {"'w'", "offsets [6, 0]", "not covered", "incomplete"});
}

TEST_CASE("corrupted bytes give a CRC error and damaged files are refused") {
  fs::path dir = good_checkpoint("ckpt-err");
  fs::path data = dir / "iter_0000007" / "rank_0.bin";
  SECTION("flipped byte") {
    {
      std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(300);
      file.put('\x5A');
    }
    CheckpointReader reader = CheckpointReader::open(dir);
    float out[128];
    require_error([&] { reader.read_whole("w", DType::kFloat32, out); }, {"CRC mismatch", "rank_0.bin", "'w'", "corrupt"});
  }
  SECTION("truncated") {
    fs::resize_file(data, 500);
    require_error([&] { CheckpointReader::open(dir); }, {"rank_0.bin", "truncated", "another iteration"});
  }
  SECTION("missing rank files") {
    fs::remove(dir / "iter_0000007" / "rank_0.json");
    require_error([&] { CheckpointReader::open(dir); }, {"rank_0.json", "incomplete"});
  }
  SECTION("unknown format version") {
    fs::path common = dir / "iter_0000007" / "common.json";
    nlohmann::json json = nlohmann::json::parse(mcpp::test::read_file(common));
    json["format_version"] = 99;
    write_text(common, json.dump());
    require_error([&] { CheckpointReader::open(dir); }, {"common.json", "format version 99", "newer megatron-cpp"});
  }
  SECTION("missing common.json") {
    fs::remove(dir / "iter_0000007" / "common.json");
    require_error([&] { CheckpointReader::open(dir); }, {"iter_0000007", "common.json", "not a complete"});
  }
  SECTION("garbage index") {
    write_text(dir / "iter_0000007" / "rank_0.json", "{not json");
    require_error([&] { CheckpointReader::open(dir); }, {"rank_0.json", "not valid JSON"});
  }
}

TEST_CASE("Megatron checkpoints are recognised and refused") {
  const std::string refusal = "megatron-cpp cannot read it yet (conversion tool planned)";
  SECTION("torch_dist") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-megatron");
    write_text(dir / "latest_checkpointed_iteration.txt", "100");
    write_text(dir / "iter_0000100" / ".metadata", "x");
    write_text(dir / "iter_0000100" / "__0_0.distcp", "x");
    write_text(dir / "iter_0000100" / "metadata.json", R"({"sharded_backend": "torch_dist"})");
    require_error([&] { CheckpointReader::open(dir); }, {"iter_0000100", "is a Megatron torch_dist checkpoint", refusal});
  }
  SECTION("older torch_dist with common.pt only") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-megatron");
    write_text(dir / "latest_checkpointed_iteration.txt", "5");
    write_text(dir / "iter_0000005" / "common.pt", "x");
    require_error([&] { CheckpointReader::open(dir); }, {"Megatron torch_dist checkpoint", refusal});
  }
  SECTION("legacy torch") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-megatron");
    write_text(dir / "latest_checkpointed_iteration.txt", "100");
    write_text(dir / "iter_0000100" / "mp_rank_00" / "model_optim_rng.pt", "x");
    require_error([&] { CheckpointReader::open(dir); }, {"iter_0000100", "Megatron legacy torch checkpoint", refusal});
  }
  SECTION("--load pointing into an iteration folder") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-megatron");
    write_text(dir / "__0_1.distcp", "x");
    require_error([&] { CheckpointReader::open(dir); }, {"Megatron torch_dist checkpoint", refusal});
  }
  SECTION("release tracker") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-megatron");
    write_text(dir / "latest_checkpointed_iteration.txt", "release");
    require_error([&] { CheckpointReader::open(dir); }, {"release", refusal});
  }
}

TEST_CASE("writer misuse is reported") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-err");
  std::vector<float> values(128, 0.f);
  SECTION("the same piece twice, or conflicting shapes") {
    CheckpointWriter writer(dir, 1);
    writer.add_whole("w", DType::kFloat32, kShape, values.data());
    require_error([&] { writer.add_whole("w", DType::kFloat32, kShape, values.data()); }, {"'w'", "saved twice"});
    require_error([&] { writer.add_whole("w", DType::kFloat32, {8, 16}, values.data()); }, {"'w'", "different"});
    require_error([&] { writer.add("v", DType::kFloat32, kShape, {12, 0}, {8, 8}, values.data()); }, {"'v'", "outside"});
  }
  SECTION("a rank that did not finish abandons the save") {
    write_text(dir / "latest_checkpointed_iteration.txt", "0");
    CheckpointWriter rank0(dir, 1, SaveOptions{0, 2, [] {}});
    CheckpointWriter rank1(dir, 1, SaveOptions{1, 2, [] {}});
    require_error([&] { rank0.commit(); }, {"rank_1.json", "did not finish"});
    REQUIRE(mcpp::test::read_file(dir / "latest_checkpointed_iteration.txt") == "0");
    REQUIRE_FALSE(fs::exists(dir / "iter_0000001"));
  }
  SECTION("several ranks need a barrier") {
    require_error([&] { CheckpointWriter(dir, 1, SaveOptions{0, 2, nullptr}); }, {"barrier"});
  }
}
