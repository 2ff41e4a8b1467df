// The index cache: hit, miss, rebuild on changed inputs or a damaged file, unwritable location.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "data/gpt/builder.h"
#include "data/gpt/gpt_dataset.h"
#include "data/gpt/index_cache.h"
#include "test/gptdata/test_data.h"

using namespace mcpp::data;
namespace fs = std::filesystem;
using mcpp::test::labelled_sequences;
using mcpp::test::scratch_dir;
using mcpp::test::write_indexed_dataset;

namespace {

std::vector<fs::path> cache_files(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::exists(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

ino_t inode(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_ino;
}

std::shared_ptr<const GptDataset> train_of(const GptDataConfig& config, int64_t n) {
  auto datasets = build_gpt_datasets(config, {n, std::nullopt, std::nullopt}, SplitName::train);
  return std::dynamic_pointer_cast<const GptDataset>(datasets[SplitName::train]);
}

void require_same(const GptIndices& a, const GptIndices& b) {
  REQUIRE(a.document_index == b.document_index);
  REQUIRE(a.sample_index == b.sample_index);
  REQUIRE(a.shuffle_index == b.shuffle_index);
  REQUIRE(a.num_epochs == b.num_epochs);
  REQUIRE(a.separate_final_epoch == b.separate_final_epoch);
}

}  // namespace

TEST_CASE("index cache: miss builds and writes, hit reads, changed inputs rebuild") {
  const auto dir = scratch_dir("gptdata-cache");
  const std::string prefix = write_indexed_dataset(dir, "data", labelled_sequences({40, 7, 90, 3, 55, 60}));
  GptDataConfig config;
  config.blend = Blend{{prefix}, std::nullopt};
  config.split = "1,0,0";
  config.seq_length = 8;
  const fs::path cache = dir / "cache";
  config.cache_path = cache.string();

  auto first = train_of(config, 100);
  auto files = cache_files(cache);
  REQUIRE(files.size() == 1);
  const std::string name = files[0].filename().string();
  REQUIRE(name.find("-mcpp-GPTDataset-train.idxcache") != std::string::npos);
  REQUIRE(name.size() == 16 + std::string("-mcpp-GPTDataset-train.idxcache").size());
  const ino_t written = inode(files[0]);

  // Hit: same inputs read the same file (not rewritten) and give the same indices.
  auto second = train_of(config, 100);
  REQUIRE(inode(files[0]) == written);
  require_same(first->indices(), second->indices());

  // Another sample count or seed: another file.
  train_of(config, 101);
  config.seed = 7;
  train_of(config, 101);
  REQUIRE(cache_files(cache).size() == 3);
  config.seed = 1234;

  // A damaged file is ignored and rebuilt in place.
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-20, std::ios::end);
    f.put('\x5a');
  }
  auto repaired = train_of(config, 100);
  require_same(first->indices(), repaired->indices());
  REQUIRE(inode(files[0]) != written);
  REQUIRE(load_index_cache(files[0].string(), "something else") == std::nullopt);

  // The data rewritten under the same prefix with other lengths: new indices, not stale ones.
  write_indexed_dataset(dir, "data", labelled_sequences({40, 7, 91, 3, 55, 60}));
  auto changed = train_of(config, 100);
  REQUIRE(changed->indices().tokens_per_epoch == first->indices().tokens_per_epoch + 1);
  REQUIRE(cache_files(cache).size() == 4);
}

TEST_CASE("index cache: default location next to the data, unwritable location, no-write ranks") {
  const auto dir = scratch_dir("gptdata-cache-where");
  const std::string prefix = write_indexed_dataset(dir, "data", labelled_sequences({40, 7, 90, 3}));
  GptDataConfig config;
  config.blend = Blend{{prefix}, std::nullopt};
  config.split = "1,0,0";
  config.seq_length = 8;

  auto built = train_of(config, 50);
  const auto files = cache_files(fs::path(prefix) / "cache" / "GPTDataset_indices");
  REQUIRE(files.size() == 1);

  // A cache path that cannot be created (below a regular file): built in memory, same result.
  std::ofstream(dir / "plain-file") << "x";
  config.cache_path = (dir / "plain-file" / "cache").string();
  auto in_memory = train_of(config, 50);
  require_same(built->indices(), in_memory->indices());

  config.cache_path = (dir / "reader-only").string();
  config.write_cache = false;
  train_of(config, 50);
  REQUIRE(cache_files(dir / "reader-only").empty());
}
