#include <catch2/catch.hpp>

#include <zlib.h>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "data/preprocess/preprocess.h"
#include "data/tokenizers/null_tokenizer.h"
#include "test/preprocess/preprocess_support.h"

namespace fs = std::filesystem;
using mcpp::data::NullTokenizer;
using mcpp::data::PreprocessOptions;
using mcpp::test::Documents;
using mcpp::test::read_documents;
using mcpp::test::write_text;

namespace {

// Line i of a generated input: the ids i, i+1, ..., i + i % 5 (so lengths differ).
std::string line_ids(int i) {
  std::string ids;
  for (int k = 0; k <= i % 5; ++k) ids += (k ? " " : "") + std::to_string(i + k);
  return ids;
}

std::vector<int32_t> ids_of(int i) {
  std::vector<int32_t> ids;
  for (int k = 0; k <= i % 5; ++k) ids.push_back(i + k);
  return ids;
}

// Writes lines [first, first + count) of the generated input.
void write_generated(const fs::path& path, int first, int count) {
  std::string text;
  for (int i = first; i < first + count; ++i) text += "{\"text\": \"" + line_ids(i) + "\"}\n";
  write_text(path, text);
}

// What Megatron writes for generated lines in `order` (one sequence each, EOD appended).
Documents expected_documents(const std::vector<int>& order, int32_t eod) {
  Documents docs;
  for (int i : order) {
    auto ids = ids_of(i);
    ids.push_back(eod);
    docs.push_back({ids});
  }
  return docs;
}

}  // namespace

TEST_CASE("documents are built like Megatron's encoder: sentences, dropped empties, EOD") {
  fs::path dir = mcpp::test::scratch_dir("preprocess");
  write_text(dir / "in.jsonl",
             "{\"text\": \"1 2 3\"}\n"
             "{\"text\": [\"4 5\", \"\", \"6\"]}\n"
             "{\"text\": \"\"}\n"
             "{\"text\": []}\n"
             "{\"text\": [\"\", \"7\", \"\"], \"extra\": {\"a\": [1, null, NaN]}}\r\n"
             "{\"text\": \"8\"}");  // no final newline
  NullTokenizer tok(100, std::nullopt);
  PreprocessOptions options;
  options.inputs = {(dir / "in.jsonl").string()};
  options.output_prefix = (dir / "out").string();
  options.log_interval = 0;

  options.append_eod = true;
  auto summary = mcpp::data::preprocess(options, tok);
  CHECK(summary.documents == 6);
  CHECK(summary.output_prefixes == std::vector<std::string>{(dir / "out_text_document").string()});
  Documents with_eod = {{{1, 2, 3, 99}}, {{4, 5}, {6, 99}}, {}, {}, {{7, 99}}, {{8, 99}}};
  CHECK(read_documents((dir / "out_text_document").string()) == with_eod);

  options.append_eod = false;
  mcpp::data::preprocess(options, tok);
  Documents without_eod = {{{1, 2, 3}}, {{4, 5}, {6}}, {}, {}, {{7}}, {{8}}};
  CHECK(read_documents((dir / "out_text_document").string()) == without_eod);
  CHECK(mcpp::data::IndexedDataset::open((dir / "out_text_document").string()).dtype() ==
        mcpp::data::DType::uint16);
}

TEST_CASE("each JSON key becomes its own dataset and the vocab size picks the dtype") {
  fs::path dir = mcpp::test::scratch_dir("preprocess");
  write_text(dir / "in.jsonl",
             "{\"a\": \"1 2\", \"b\": \"70000\"}\n"
             "{\"b\": [\"3\", \"4\"], \"a\": \"\"}\n");
  NullTokenizer tok(65500, std::nullopt);  // not < 65500: int32
  PreprocessOptions options;
  options.inputs = {(dir / "in.jsonl").string()};
  options.output_prefix = (dir / "multi").string();
  options.json_keys = {"b", "a"};
  options.append_eod = true;
  options.log_interval = 0;
  CHECK_THROWS_WITH(mcpp::data::preprocess(options, tok), Catch::Contains("in.jsonl:1: "));
  NullTokenizer big(100000, std::nullopt);
  mcpp::data::preprocess(options, big);
  CHECK(read_documents((dir / "multi_a_document").string()) ==
        Documents{{{1, 2, 99999}}, {}});
  CHECK(read_documents((dir / "multi_b_document").string()) ==
        Documents{{{70000, 99999}}, {{3}, {4, 99999}}});
  CHECK(mcpp::data::IndexedDataset::open((dir / "multi_a_document").string()).dtype() ==
        mcpp::data::DType::int32);
}

TEST_CASE("output keeps input order whatever the batching and the number of workers") {
  fs::path dir = mcpp::test::scratch_dir("preprocess");
  const int lines = 3000;
  write_generated(dir / "in.jsonl", 0, lines);
  NullTokenizer tok(50000, std::nullopt);
  std::vector<int> order(lines);
  for (int i = 0; i < lines; ++i) order[i] = i;
  const Documents expected = expected_documents(order, tok.eod());
  for (int workers : {1, 4}) {
    for (size_t batch_bytes : {size_t{1}, size_t{700}, size_t{1} << 20}) {
      PreprocessOptions options;
      options.inputs = {(dir / "in.jsonl").string()};
      options.output_prefix = (dir / "out").string();
      options.append_eod = true;
      options.workers = workers;
      options.batch_bytes = batch_bytes;
      options.log_interval = 0;
      mcpp::data::preprocess(options, tok);
      INFO("workers " << workers << ", batch bytes " << batch_bytes);
      CHECK(read_documents((dir / "out_text_document").string()) == expected);
    }
  }
}

TEST_CASE("partitions reproduce Megatron's round-robin and sequential document order") {
  fs::path dir = mcpp::test::scratch_dir("preprocess");
  // Three input files of uneven sizes; Megatron's round-robin index runs on across files.
  write_generated(dir / "part-a.jsonl", 0, 10);
  write_generated(dir / "part-b.jsonl", 10, 7);
  write_generated(dir / "part-c.jsonl", 17, 15);
  const int total = 32;
  NullTokenizer tok(1000, std::nullopt);
  for (int partitions : {2, 3, 5}) {
    std::vector<int> round_robin;
    for (int p = 0; p < partitions; ++p)
      for (int g = 0; g < total; ++g)
        if (g % partitions == p) round_robin.push_back(g);
    std::vector<int> sequential(total);
    for (int g = 0; g < total; ++g) sequential[g] = g;

    for (bool keep_sequential : {false, true}) {
      for (size_t batch_bytes : {size_t{1}, size_t{1} << 20}) {
        PreprocessOptions options;
        options.inputs = {(dir / "part-a.jsonl").string(), (dir / "part-b.jsonl").string(),
                          (dir / "part-c.jsonl").string()};
        options.output_prefix = (dir / "out").string();
        options.append_eod = true;
        options.workers = partitions;
        options.partitions = partitions;
        options.keep_sequential_samples = keep_sequential;
        options.batch_bytes = batch_bytes;
        options.log_interval = 0;
        mcpp::data::preprocess(options, tok);
        INFO("partitions " << partitions << ", sequential " << keep_sequential);
        CHECK(read_documents((dir / "out_text_document").string()) ==
              expected_documents(keep_sequential ? sequential : round_robin, tok.eod()));
      }
    }
  }
  // The tool expands the glob in name order and leaves only the two output files behind.
  auto before = mcpp::test::files_in(dir);
  auto result = mcpp::test::run(
      mcpp::test::quoted(mcpp::test::program("preprocess")) + " --input " +
      mcpp::test::quoted(dir / "part-*.jsonl") + " --output-prefix " +
      mcpp::test::quoted(dir / "tool") +
      " --tokenizer-type NullTokenizer --vocab-size 1000 --append-eod --workers 3 --partitions 3");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  std::vector<int> expected;
  for (int p = 0; p < 3; ++p)
    for (int g = p; g < total; g += 3) expected.push_back(g);
  CHECK(read_documents((dir / "tool_text_document").string()) ==
        expected_documents(expected, tok.eod()));
  auto after = mcpp::test::files_in(dir);
  CHECK(after.size() == before.size() + 2);
}

TEST_CASE("gzip inputs are read like plain ones, also inside a partition glob") {
  fs::path dir = mcpp::test::scratch_dir("preprocess");
  write_generated(dir / "x-1.jsonl", 0, 9);
  write_generated(dir / "plain.jsonl", 9, 8);
  {
    // x-2.jsonl.gz holds the lines of plain.jsonl.
    const std::string text = mcpp::test::read_file(dir / "plain.jsonl");
    gzFile gz = gzopen((dir / "x-2.jsonl.gz").c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  }
  NullTokenizer tok(1000, std::nullopt);
  PreprocessOptions options;
  options.inputs = {(dir / "x-2.jsonl.gz").string()};
  options.output_prefix = (dir / "gz").string();
  options.append_eod = true;
  options.log_interval = 0;
  mcpp::data::preprocess(options, tok);
  std::vector<int> order;
  for (int i = 9; i < 17; ++i) order.push_back(i);
  CHECK(read_documents((dir / "gz_text_document").string()) == expected_documents(order, 999));

  auto result = mcpp::test::run(
      mcpp::test::quoted(mcpp::test::program("preprocess")) + " --input " +
      mcpp::test::quoted(dir / "x-*") + " --output-prefix " + mcpp::test::quoted(dir / "glob") +
      " --tokenizer-type NullTokenizer --vocab-size 1000 --append-eod --workers 2 --partitions 2");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  order.clear();
  for (int p = 0; p < 2; ++p)
    for (int g = p; g < 17; g += 2) order.push_back(g);
  CHECK(read_documents((dir / "glob_text_document").string()) == expected_documents(order, 999));
}
