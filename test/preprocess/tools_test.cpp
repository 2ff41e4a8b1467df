#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "data/indexed/indexed_dataset_builder.h"
#include "test/preprocess/preprocess_support.h"

namespace fs = std::filesystem;
using mcpp::data::DType;
using mcpp::data::IndexedDatasetBuilder;
using mcpp::test::Documents;
using mcpp::test::quoted;
using mcpp::test::read_documents;

namespace {

void write_dataset(const std::string& prefix, const Documents& docs, DType dtype) {
  IndexedDatasetBuilder builder(prefix, dtype);
  for (const auto& doc : docs) {
    std::vector<int32_t> tokens, lengths;
    for (const auto& seq : doc) {
      tokens.insert(tokens.end(), seq.begin(), seq.end());
      lengths.push_back(static_cast<int32_t>(seq.size()));
    }
    builder.add_document(tokens, lengths);
  }
  builder.finalize();
}

mcpp::test::RunResult merge(const fs::path& input, const fs::path& output_prefix) {
  return mcpp::test::run(quoted(mcpp::test::program("merge-datasets")) + " --input " +
                         quoted(input) + " --output-prefix " + quoted(output_prefix));
}

}  // namespace

TEST_CASE("merge-datasets concatenates every dataset of a directory in sorted name order") {
  fs::path root = mcpp::test::scratch_dir("merge");
  fs::path in = root / "in";
  fs::create_directories(in);
  const Documents b = {{{1, 2}, {3}}, {}};
  const Documents a = {{{4}}};
  const Documents c = {{{5, 6, 7}}, {{8}}};
  // Created out of order: the merge order is the names' order.
  write_dataset((in / "b").string(), b, DType::uint16);
  write_dataset((in / "c").string(), c, DType::uint16);
  write_dataset((in / "a").string(), a, DType::uint16);
  mcpp::test::write_text(in / "README.txt", "other files are ignored");
  auto result = merge(in, root / "merged");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  Documents expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  expected.insert(expected.end(), c.begin(), c.end());
  CHECK(read_documents((root / "merged").string()) == expected);
  // Byte-identical to building the concatenation directly.
  write_dataset((root / "direct").string(), expected, DType::uint16);
  CHECK(mcpp::test::read_file(root / "merged.idx") == mcpp::test::read_file(root / "direct.idx"));
  CHECK(mcpp::test::read_file(root / "merged.bin") == mcpp::test::read_file(root / "direct.bin"));

  // Mixed dtypes are refused, and nothing is written.
  write_dataset((in / "d").string(), {{{9}}}, DType::int32);
  result = merge(in, root / "mixed");
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("d.idx: dtype int32 differs from uint16") != std::string::npos);
  CHECK_FALSE(fs::exists(root / "mixed.bin"));
  CHECK_FALSE(fs::exists(root / "mixed.idx"));
  fs::remove(in / "d.idx");
  result = merge(in, root / "mixed");
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("d.bin: its .idx file is missing") != std::string::npos);

  fs::create_directories(root / "empty");
  result = merge(root / "empty", root / "x");
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("no .bin/.idx datasets") != std::string::npos);
}

TEST_CASE("inspect-data info prints the dataset's counts as JSON") {
  fs::path dir = mcpp::test::scratch_dir("inspect");
  write_dataset((dir / "ds").string(), {{{1, 2}, {3}}, {}, {{4, 5, 6}}}, DType::uint16);
  auto result = mcpp::test::run(quoted(mcpp::test::program("inspect-data")) +
                                " info --data-path " + quoted(dir / "ds"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  auto info = nlohmann::json::parse(result.output);
  CHECK(info["sequences"] == 3);
  CHECK(info["documents"] == 3);
  CHECK(info["tokens"] == 6);
  CHECK(info["dtype"] == "uint16");
  CHECK(info["bin_bytes"] == 12);
  CHECK(info["idx_bytes"] == 34 + 12 * 3 + 8 * 4);
  CHECK(result.output.find("\"sequences\":3,\"documents\":3,\"tokens\":6") == 1);

  auto bad = mcpp::test::run(quoted(mcpp::test::program("inspect-data")) + " info --data-path " +
                             quoted(dir / "missing"));
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("missing.idx") != std::string::npos);
  auto unknown = mcpp::test::run(quoted(mcpp::test::program("inspect-data")) + " nope");
  CHECK(unknown.exit_code == 1);
}

TEST_CASE("preprocess streams: a 200 MB input stays within a small, fixed memory") {
  fs::path dir = mcpp::test::scratch_dir("memory");
  const fs::path input = dir / "big.jsonl";
  // ~1 KB documents of NullTokenizer ids, 200 MB in all.
  std::string line = "{\"text\": \"";
  for (int k = 0; line.size() < 1000; ++k) line += std::to_string(1000 + k * 7 % 8000) + " ";
  line += "42\"}\n";
  const size_t lines = (200u << 20) / line.size();
  {
    std::ofstream out(input, std::ios::binary);
    for (size_t i = 0; i < lines; ++i) out << line;
  }
  auto result = mcpp::test::run("/usr/bin/time -f 'max-rss-kb %M' " +
                                quoted(mcpp::test::program("preprocess")) + " --input " +
                                quoted(input) + " --output-prefix " + quoted(dir / "out") +
                                " --tokenizer-type NullTokenizer --vocab-size 10000 --append-eod"
                                " --workers 2 --log-interval 100000");
  fs::remove(input);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto at = result.output.find("max-rss-kb ");
  REQUIRE(at != std::string::npos);
  const long rss_kb = std::stol(result.output.substr(at + 11));
  // Index arrays of ~200k documents are ~3 MB; everything else is bounded by the batches.
  CHECK(rss_kb < 120 * 1024);
  auto ds = mcpp::data::IndexedDataset::open((dir / "out_text_document").string());
  CHECK(ds.num_documents() == lines);
}
