// Saving as several simulated ranks (separate writers sharing one directory, committed in turn
// with rank 0 last), then reading arbitrary regions at another "layout".
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "test/checkpoint/checkpoint_test_util.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using namespace mcpp::ckpt;
using namespace mcpp::ckpt::test;

namespace {

// Writers for ranks 0..world-1 (rank 0 constructed first: it prepares the directory).
std::vector<std::unique_ptr<CheckpointWriter>> make_writers(const fs::path& dir, int64_t iteration, int world) {
  std::vector<std::unique_ptr<CheckpointWriter>> writers;
  for (int r = 0; r < world; ++r) {
    writers.push_back(std::make_unique<CheckpointWriter>(dir, iteration, SaveOptions{r, world, [] {}}));
  }
  return writers;
}

void commit_all(std::vector<std::unique_ptr<CheckpointWriter>>& writers) {
  for (size_t r = writers.size(); r-- > 0;) writers[r]->commit();  // rank 0 publishes last
}

// Splits `t` along `dim` into `parts` nearly equal pieces; piece r goes to writer r % world.
void save_split(std::vector<std::unique_ptr<CheckpointWriter>>& writers, const std::string& key,
                const HostTensor& t, size_t dim, int parts) {
  int64_t extent = t.shape[dim];
  for (int p = 0; p < parts; ++p) {
    Shape offsets(t.shape.size(), 0), shape = t.shape;
    offsets[dim] = extent * p / parts;
    shape[dim] = extent * (p + 1) / parts - offsets[dim];
    std::vector<uint8_t> piece = slice(t, offsets, shape, t.dtype);
    writers[size_t(p) % writers.size()]->add(key, t.dtype, t.shape, offsets, shape, piece.data());
  }
}

Shape random_region_offsets(const Shape& global, Shape& shape, std::mt19937_64& rng) {
  Shape offsets(global.size());
  shape.assign(global.size(), 0);
  for (size_t d = 0; d < global.size(); ++d) {
    offsets[d] = int64_t(rng() % uint64_t(global[d]));
    shape[d] = 1 + int64_t(rng() % uint64_t(global[d] - offsets[d]));
  }
  return offsets;
}

}  // namespace

TEST_CASE("tensors saved as 2 or 4 ranks split on dim 0 or 1 reassemble at any region") {
  std::mt19937_64 rng(99);
  for (int world : {2, 4}) {
    for (size_t dim : {0u, 1u}) {
      fs::path dir = mcpp::test::scratch_dir("ckpt-reshard");
      std::map<std::string, HostTensor> saved;
      saved["decoder.layers.0.self_attention.linear_qkv.weight"] = random_tensor(DType::kBFloat16, {48, 20}, rng);
      saved["decoder.layers.0.self_attention.linear_proj.weight"] = random_tensor(DType::kFloat32, {20, 16}, rng);
      saved["embedding.word_embeddings.weight"] = random_tensor(DType::kBFloat16, {50257 % 101, 12}, rng);
      saved["optimizer.exp_avg.decoder.layers.0.mlp.linear_fc1.weight"] = random_tensor(DType::kFloat32, {9, 7, 5}, rng);
      {
        auto writers = make_writers(dir, 10, world);
        for (const auto& [key, t] : saved) save_split(writers, key, t, dim, world);
        commit_all(writers);
      }
      for (int r = 0; r < world; ++r) REQUIRE(fs::exists(dir / "iter_0000010" / ("rank_" + std::to_string(r) + ".bin")));

      CheckpointReader reader = CheckpointReader::open(dir);
      for (const auto& [key, t] : saved) {
        INFO("world " << world << " dim " << dim << " key " << key);
        std::vector<uint8_t> whole(t.bytes.size());
        reader.read_whole(key, t.dtype, whole.data());
        REQUIRE(whole == t.bytes);
        // Regions at other layouts: the other split dimension with 3 parts, and random boxes.
        size_t other = 1 - dim;
        for (int p = 0; p < 3; ++p) {
          Shape offsets(t.shape.size(), 0), shape = t.shape;
          offsets[other] = t.shape[other] * p / 3;
          shape[other] = t.shape[other] * (p + 1) / 3 - offsets[other];
          std::vector<uint8_t> out(size_t(element_count(shape)) * dtype_size(t.dtype));
          reader.read(key, offsets, shape, t.dtype, out.data());
          REQUIRE(out == slice(t, offsets, shape, t.dtype));
        }
        for (int trial = 0; trial < 30; ++trial) {
          Shape shape;
          Shape offsets = random_region_offsets(t.shape, shape, rng);
          std::vector<float> out(size_t(element_count(shape)));
          reader.read(key, offsets, shape, DType::kFloat32, out.data());
          std::vector<uint8_t> expected = slice(t, offsets, shape, DType::kFloat32);
          REQUIRE(std::memcmp(out.data(), expected.data(), expected.size()) == 0);
        }
      }
    }
  }
}

TEST_CASE("replicas: only the designated writer stores and identical duplicates are tolerated") {
  std::mt19937_64 rng(5);
  HostTensor norm = random_tensor(DType::kFloat32, {64}, rng);
  HostTensor weight = random_tensor(DType::kFloat32, {8, 6}, rng);

  SECTION("non-designated replicas write nothing") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-replica");
    auto writers = make_writers(dir, 1, 4);
    for (int r = 0; r < 4; ++r) writers[r]->add_whole("decoder.final_layernorm.weight", norm.dtype, norm.shape, norm.bytes.data(), r == 0);
    commit_all(writers);
    REQUIRE(fs::file_size(dir / "iter_0000001" / "rank_0.bin") == 64 * 4);
    for (int r = 1; r < 4; ++r) REQUIRE(fs::file_size(dir / "iter_0000001" / ("rank_" + std::to_string(r) + ".bin")) == 0);
    std::vector<uint8_t> out(norm.bytes.size());
    CheckpointReader::open(dir).read_whole("decoder.final_layernorm.weight", DType::kFloat32, out.data());
    REQUIRE(out == norm.bytes);
  }
  SECTION("identical copies from two ranks load once") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-replica");
    auto writers = make_writers(dir, 1, 2);
    for (auto& w : writers) w->add_whole("w", weight.dtype, weight.shape, weight.bytes.data());
    commit_all(writers);
    std::vector<uint8_t> out(weight.bytes.size());
    CheckpointReader::open(dir).read_whole("w", DType::kFloat32, out.data());
    REQUIRE(out == weight.bytes);
  }
  SECTION("partially overlapping pieces still assemble") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-replica");
    auto writers = make_writers(dir, 1, 2);
    auto rows = [&](int64_t begin, int64_t count) { return slice(weight, {begin, 0}, {count, 6}, weight.dtype); };
    writers[0]->add("w", weight.dtype, weight.shape, {0, 0}, {5, 6}, rows(0, 5).data());
    writers[1]->add("w", weight.dtype, weight.shape, {3, 0}, {5, 6}, rows(3, 5).data());
    commit_all(writers);
    std::vector<uint8_t> out(weight.bytes.size());
    CheckpointReader::open(dir).read_whole("w", DType::kFloat32, out.data());
    REQUIRE(out == weight.bytes);
  }
  SECTION("different contents for the same piece are refused") {
    fs::path dir = mcpp::test::scratch_dir("ckpt-replica");
    auto writers = make_writers(dir, 1, 2);
    HostTensor other = random_tensor(DType::kFloat32, {8, 6}, rng);
    writers[0]->add_whole("w", weight.dtype, weight.shape, weight.bytes.data());
    writers[1]->add_whole("w", other.dtype, other.shape, other.bytes.data());
    commit_all(writers);
    require_error([&] { CheckpointReader::open(dir); }, {"'w'", "different contents", "rank_1.bin"});
  }
}
