#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/base/error.h"
#include "data/indexed/indexed_dataset.h"
#include "data/indexed/indexed_dataset_builder.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using mcpp::data::DType;
using mcpp::data::IndexedDataset;
using mcpp::data::IndexedDatasetBuilder;

namespace {

std::vector<uint8_t> hex(const std::string& text) {
  std::vector<uint8_t> bytes;
  std::string digits;
  for (char c : text)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2)
    bytes.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return bytes;
}

std::vector<uint8_t> bytes_of(const fs::path& path) {
  std::string s = mcpp::test::read_file(path);
  return {s.begin(), s.end()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The compat reference's worked example: doc0 = [10,11,12] + [13,50256], doc1 = [20,21,22,50256].
std::string write_worked_example(const fs::path& dir) {
  std::string prefix = (dir / "example").string();
  IndexedDatasetBuilder builder(prefix, DType::uint16);
  std::vector<int32_t> doc0 = {10, 11, 12, 13, 50256};
  std::vector<int32_t> lens0 = {3, 2};
  std::vector<int32_t> doc1 = {20, 21, 22, 50256};
  std::vector<int32_t> lens1 = {4};
  builder.add_document(doc0, lens0);
  builder.add_document(doc1, lens1);
  builder.finalize();
  return prefix;
}

const char* kExampleIdx =
    "4d4d 4944 4944 5800 0001 0000 0000 0000"
    "0008 0300 0000 0000 0000 0300 0000 0000"
    "0000 0300 0000 0200 0000 0400 0000 0000"
    "0000 0000 0000 0600 0000 0000 0000 0a00"
    "0000 0000 0000 0000 0000 0000 0000 0200"
    "0000 0000 0000 0300 0000 0000 0000";
const char* kExampleBin = "0a00 0b00 0c00 0d00 50c4 1400 1500 1600 50c4";

// Runs open() and returns its error message ("" when it succeeds).
std::string open_error(const std::string& prefix) {
  try {
    IndexedDataset::open(prefix);
  } catch (const mcpp::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("builder writes the worked example byte for byte") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  std::string prefix = write_worked_example(dir);
  CHECK(bytes_of(prefix + ".idx") == hex(kExampleIdx));
  CHECK(bytes_of(prefix + ".bin") == hex(kExampleBin));
  // Nothing but the two files remains (no temporaries).
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 2);
}

TEST_CASE("reader exposes the worked example") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  auto ds = IndexedDataset::open(write_worked_example(dir));
  CHECK(ds.num_sequences() == 3);
  CHECK(ds.num_documents() == 2);
  CHECK(ds.num_tokens() == 9);
  CHECK(ds.dtype() == DType::uint16);
  CHECK(ds.itemsize() == 2);
  CHECK(ds.idx_bytes() == 94);
  CHECK(ds.bin_bytes() == 18);
  CHECK(std::vector<int32_t>(ds.sequence_lengths().begin(), ds.sequence_lengths().end()) ==
        std::vector<int32_t>{3, 2, 4});
  CHECK(std::vector<int64_t>(ds.sequence_pointers().begin(), ds.sequence_pointers().end()) ==
        std::vector<int64_t>{0, 6, 10});
  CHECK(std::vector<int64_t>(ds.document_indices().begin(), ds.document_indices().end()) ==
        std::vector<int64_t>{0, 2, 3});
  std::vector<int32_t> tokens(2);
  ds.read(1, 0, 2, tokens.data());
  CHECK(tokens == std::vector<int32_t>{13, 50256});
  ds.read(2, 1, 2, tokens.data());
  CHECK(tokens == std::vector<int32_t>{21, 22});
  CHECK_THROWS_AS(ds.read(2, 3, 2, tokens.data()), mcpp::Error);
  CHECK_THROWS_AS(ds.read(3, 0, 1, tokens.data()), mcpp::Error);
}

TEST_CASE("builder handles every integer dtype, empty documents and out-of-range ids") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  for (DType dtype : {DType::uint8, DType::int8, DType::int16, DType::uint16, DType::int32,
                      DType::int64}) {
    std::string prefix = (dir / mcpp::data::dtype_name(dtype)).string();
    IndexedDatasetBuilder builder(prefix, dtype);
    std::vector<int32_t> doc = {1, 2, 3, 4, 5};
    std::vector<int32_t> lens = {2, 3};
    builder.add_document(doc, lens);
    builder.add_document({}, {});
    builder.add_document(std::span<const int32_t>(doc).first(1), std::vector<int32_t>{1});
    builder.finalize();
    auto ds = IndexedDataset::open(prefix);
    CHECK(ds.dtype() == dtype);
    CHECK(ds.num_documents() == 3);
    CHECK(std::vector<int64_t>(ds.document_indices().begin(), ds.document_indices().end()) ==
          std::vector<int64_t>{0, 2, 2, 3});
    std::vector<int32_t> out(3);
    ds.read(1, 0, 3, out.data());
    CHECK(out == std::vector<int32_t>{3, 4, 5});
  }
  IndexedDatasetBuilder narrow((dir / "narrow").string(), DType::uint16);
  std::vector<int32_t> too_big = {70000};
  std::vector<int32_t> one = {1};
  CHECK_THROWS_WITH(narrow.add_document(too_big, one), Catch::Contains("does not fit"));
  std::vector<int32_t> wrong_lengths = {2};
  CHECK_THROWS_WITH(narrow.add_document(one, wrong_lengths), Catch::Contains("add up to"));
}

TEST_CASE("an unfinalized builder leaves no files") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  {
    IndexedDatasetBuilder builder((dir / "x").string(), DType::int32);
    std::vector<int32_t> doc = {1};
    builder.add_document(doc, doc);
  }
  CHECK(fs::is_empty(dir));
}

TEST_CASE("empty dataset round-trips") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  std::string prefix = (dir / "empty").string();
  IndexedDatasetBuilder builder(prefix, DType::int32);
  builder.finalize();
  auto ds = IndexedDataset::open(prefix);
  CHECK(ds.num_sequences() == 0);
  CHECK(ds.num_documents() == 0);
  CHECK(ds.bin_bytes() == 0);
  CHECK(ds.idx_bytes() == 42);
}

TEST_CASE("add_index concatenates datasets as Megatron does") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  std::string a = write_worked_example(dir);
  std::string merged = (dir / "merged").string();
  IndexedDatasetBuilder builder(merged, DType::uint16);
  auto ds = IndexedDataset::open(a);
  builder.add_index(ds);
  std::vector<int32_t> doc = {7, 8};
  std::vector<int32_t> lens = {1, 1};
  builder.add_document(doc, lens);
  builder.add_index(ds);
  builder.finalize();
  auto out = IndexedDataset::open(merged);
  CHECK(std::vector<int64_t>(out.document_indices().begin(), out.document_indices().end()) ==
        std::vector<int64_t>{0, 2, 3, 5, 7, 8});
  CHECK(std::vector<int32_t>(out.sequence_lengths().begin(), out.sequence_lengths().end()) ==
        std::vector<int32_t>{3, 2, 4, 1, 1, 3, 2, 4});
  std::vector<int32_t> tokens(4);
  out.read(7, 0, 4, tokens.data());
  CHECK(tokens == std::vector<int32_t>{20, 21, 22, 50256});

  IndexedDatasetBuilder other_dtype((dir / "wide").string(), DType::int32);
  CHECK_THROWS_WITH(other_dtype.add_index(ds), Catch::Contains("dtype"));
}

TEST_CASE("reader rejects damaged files with a one-line message naming the file") {
  fs::path dir = mcpp::test::scratch_dir("indexed");
  std::string prefix = write_worked_example(dir);
  const std::vector<uint8_t> idx = hex(kExampleIdx);
  const std::vector<uint8_t> bin = hex(kExampleBin);
  const std::string idx_name = prefix + ".idx";
  const std::string bin_name = prefix + ".bin";

  auto expect = [&](const std::vector<uint8_t>& idx_bytes, const std::vector<uint8_t>& bin_bytes,
                    const std::string& file, const std::string& what) {
    write_bytes(idx_name, idx_bytes);
    write_bytes(bin_name, bin_bytes);
    std::string message = open_error(prefix);
    INFO(message);
    CHECK(message.rfind(file + ": ", 0) == 0);
    CHECK(message.find(what) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  };

  CHECK(open_error(prefix).empty());
  expect({idx.begin(), idx.end() - 8}, bin, idx_name, "truncated");
  expect({idx.begin(), idx.begin() + 20}, bin, idx_name, "truncated");
  auto extra = idx;
  extra.push_back(0);
  expect(extra, bin, idx_name, "unexpected bytes");

  auto bad_magic = idx;
  bad_magic[0] = 'X';
  expect(bad_magic, bin, idx_name, "magic");

  auto bad_version = idx;
  bad_version[9] = 2;
  expect(bad_version, bin, idx_name, "version 2");

  auto bad_code = idx;
  bad_code[17] = 9;
  expect(bad_code, bin, idx_name, "dtype code 9");

  expect(idx, {bin.begin(), bin.end() - 2}, bin_name, "holds 16 bytes");

  auto bad_last = idx;
  bad_last[0x56] = 2;  // last document index 3 -> 2
  expect(bad_last, bin, idx_name, "last document index is 2");

  auto bad_pointer = idx;
  bad_pointer[0x36] = 8;  // second pointer 6 -> 8
  expect(bad_pointer, bin, idx_name, "points to byte 8");

  std::string missing = open_error((dir / "absent").string());
  CHECK(missing.find("absent.idx") != std::string::npos);
}

TEST_CASE("a Megatron-written dataset read and rebuilt document by document is identical") {
  for (std::string name : {"fortunes-gpt2_text_document", "fortunes-llama3_text_document"}) {
    std::string source = mcpp::test::data_file("fixtures/megatron/" + name + ".idx").string();
    source.resize(source.size() - 4);
    auto ds = IndexedDataset::open(source);
    CHECK(ds.num_documents() == 15218);
    fs::path dir = mcpp::test::scratch_dir("indexed");
    std::string copy = (dir / name).string();
    IndexedDatasetBuilder builder(copy, ds.dtype());
    auto docs = ds.document_indices();
    auto lengths = ds.sequence_lengths();
    std::vector<int32_t> tokens;
    for (size_t k = 0; k + 1 < docs.size(); ++k) {
      std::vector<int32_t> doc_lengths(lengths.begin() + docs[k], lengths.begin() + docs[k + 1]);
      tokens.clear();
      for (int64_t s = docs[k]; s < docs[k + 1]; ++s) {
        size_t at = tokens.size();
        tokens.resize(at + static_cast<size_t>(lengths[s]));
        ds.read(static_cast<size_t>(s), 0, static_cast<size_t>(lengths[s]), tokens.data() + at);
      }
      builder.add_document(tokens, doc_lengths);
    }
    builder.finalize();
    CHECK(mcpp::test::read_file(copy + ".idx") == mcpp::test::read_file(source + ".idx"));
    CHECK(mcpp::test::read_file(copy + ".bin") == mcpp::test::read_file(source + ".bin"));
  }
}
