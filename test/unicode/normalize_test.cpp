#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include <map>
#include <nlohmann/json.hpp>

#include "data/unicode/normalize.h"
#include "test/common/test_support.h"
#include "data/unicode/properties.h"
#include "data/unicode/utf8.h"
#include "test/unicode/unicode_test_support.h"

using namespace mcpp::data::unicode;

namespace {

constexpr const char* kUcdDir = "/usr/share/unicode";

std::string ucd_file(const std::string& name) {
  const std::string path = std::string(kUcdDir) + "/" + name;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("missing " + path + ": install Debian's unicode-data (scripts/setup.sh)");
  }
  return path;
}

// "0044 0307" -> UTF-8
std::string utf8_of_hex(const std::string& field) {
  std::istringstream in(field);
  std::string hex;
  std::string out;
  while (in >> hex) append_utf8(out, static_cast<char32_t>(std::stoul(hex, nullptr, 16)));
  return out;
}

std::vector<std::string> split_fields(const std::string& line, char separator) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(separator, start);
    fields.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return fields;
    start = end + 1;
  }
}

}  // namespace

TEST_CASE("nfc passes NormalizationTest.txt parts 0 to 3") {
  const std::string text = mcpp::test::command_output("bzip2 -dc " + ucd_file("NormalizationTest.txt.bz2"));
  std::istringstream lines(text);
  std::string line;
  std::unordered_set<char32_t> part1;
  int part = -1;
  size_t checked = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("@Part", 0) == 0) {
      part = std::stoi(line.substr(5));
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split_fields(line, ';');
    REQUIRE(fields.size() >= 5);
    std::string c[5];
    for (int i = 0; i < 5; ++i) c[i] = utf8_of_hex(fields[i]);
    if (part == 1) part1.insert(static_cast<char32_t>(std::stoul(fields[0], nullptr, 16)));
    // Conformance: c2 == NFC(c1) == NFC(c2) == NFC(c3), c4 == NFC(c4) == NFC(c5).
    INFO("line: " << line);
    CHECK(nfc(c[0]) == c[1]);
    CHECK(nfc(c[1]) == c[1]);
    CHECK(nfc(c[2]) == c[1]);
    CHECK(nfc(c[3]) == c[3]);
    CHECK(nfc(c[4]) == c[3]);
    ++checked;
  }
  CHECK(checked > 19000);
  CHECK(part1.size() > 10000);
  // Every code point not named in part 1 is its own NFC.
  size_t failures = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || part1.count(cp)) continue;
    std::string s;
    append_utf8(s, cp);
    if (nfc(s) != s && ++failures < 5) FAIL_CHECK("code point " << std::hex << uint32_t(cp));
  }
  CHECK(failures == 0);
}

TEST_CASE("huggingface_nfc matches Hugging Face tokenizers (Unicode 9.0 data)") {
  // Recorded from tokenizers' NFC normalizer by test/fixtures/unicode/make_split_fixtures.py.
  const auto fixture_lines = mcpp::test::read_gzip_lines(
      (mcpp::test::source_dir() / "test/fixtures/unicode/hf-nfc.json.gz").string());
  REQUIRE(fixture_lines.size() == 1);
  const auto fixture = nlohmann::json::parse(fixture_lines[0]);
  std::map<std::pair<size_t, int>, std::string> differences;
  for (const auto& d : fixture.at("test_differences")) {
    differences[{d[0].get<size_t>(), d[1].get<int>()}] = utf8_of_hex(d[2].get<std::string>());
  }
  REQUIRE(!differences.empty());

  const std::string text = mcpp::test::command_output("bzip2 -dc " + ucd_file("NormalizationTest.txt.bz2"));
  std::istringstream lines(text);
  std::string line;
  size_t index = 0;
  size_t failures = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '@') continue;
    const auto fields = split_fields(line, ';');
    std::string c[5];
    for (int i = 0; i < 5; ++i) c[i] = utf8_of_hex(fields[i]);
    for (int column = 0; column < 5; ++column) {
      const auto it = differences.find({index, column});
      const std::string& expected = it != differences.end() ? it->second : c[column < 3 ? 1 : 3];
      if (huggingface_nfc(c[column]) != expected && ++failures <= 5) {
        FAIL_CHECK("line " << line << " column " << column + 1);
      }
    }
    ++index;
  }
  CHECK(index == fixture.at("lines").get<size_t>());

  std::map<char32_t, std::string> changed;
  for (const auto& entry : fixture.at("changed_code_points")) {
    changed[entry[0].get<char32_t>()] = utf8_of_hex(entry[1].get<std::string>());
  }
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    append_utf8(s, cp);
    const auto it = changed.find(cp);
    if (huggingface_nfc(s) != (it != changed.end() ? it->second : s) && ++failures <= 5) {
      FAIL_CHECK("code point " << std::hex << uint32_t(cp));
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("nfc keeps NFC text and invalid bytes as they are") {
  CHECK(nfc("") == "");
  CHECK(nfc("plain ASCII") == "plain ASCII");
  CHECK(is_nfc_quick("caf\xC3\xA9"));
  CHECK_FALSE(is_nfc_quick("cafe\xCC\x81"));
  CHECK(nfc("cafe\xCC\x81") == "caf\xC3\xA9");
  // Hangul: L V T jamo compose to one syllable.
  CHECK(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") == "\xEA\xB0\x81");
  // Invalid bytes survive next to text that changes.
  CHECK(nfc("\xFF" "e\xCC\x81\x80") == "\xFF\xC3\xA9\x80");
  // Composition exclusion: U+0958 stays decomposed.
  CHECK(nfc("\xE0\xA5\x98") == "\xE0\xA4\x95\xE0\xA4\xBC");
}

TEST_CASE("character classes match UnicodeData.txt for every code point") {
  std::ifstream in(ucd_file("UnicodeData.txt"));
  std::vector<char> category(0x110000, 'C');  // unassigned: Cn
  std::vector<uint8_t> classes(0x110000, 0);
  std::string line;
  while (std::getline(in, line)) {
    const auto fields = split_fields(line, ';');
    const char32_t first = static_cast<char32_t>(std::stoul(fields[0], nullptr, 16));
    char32_t last = first;
    if (fields[1].find(", First>") != std::string::npos) {
      std::string next;
      std::getline(in, next);
      last = static_cast<char32_t>(std::stoul(next.substr(0, next.find(';')), nullptr, 16));
    }
    for (char32_t cp = first; cp <= last; ++cp) {
      category[cp] = fields[2][0];
      classes[cp] = static_cast<uint8_t>(std::stoi(fields[3]));
    }
  }
  size_t mismatches = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (is_letter(cp) != (category[cp] == 'L') || is_number(cp) != (category[cp] == 'N') ||
        combining_class(cp) != classes[cp]) {
      if (++mismatches < 5) FAIL_CHECK("code point " << std::hex << uint32_t(cp));
    }
  }
  CHECK(mismatches == 0);
}
