#include <catch2/catch.hpp>

#include <filesystem>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;

TEST_CASE("AtomicFile appears only on commit") {
  fs::path dir = mcpp::test::scratch_dir("atomic");
  fs::path target = dir / "out.bin";
  {
    mcpp::AtomicFile file(target.string());
    file.write("hello");
    REQUIRE_FALSE(fs::exists(target));
    file.commit();
  }
  REQUIRE(mcpp::test::read_file(target) == "hello");
}

TEST_CASE("AtomicFile without commit leaves the old file and no temporary") {
  fs::path dir = mcpp::test::scratch_dir("atomic");
  fs::path target = dir / "out.bin";
  {
    mcpp::AtomicFile file(target.string());
    file.write("old");
    file.commit();
  }
  {
    mcpp::AtomicFile file(target.string());
    file.write("new, abandoned");
  }
  REQUIRE(mcpp::test::read_file(target) == "old");
  REQUIRE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
}

TEST_CASE("AtomicFile in a missing directory is a clear error") {
  fs::path dir = mcpp::test::scratch_dir("atomic");
  REQUIRE_THROWS_AS(mcpp::AtomicFile((dir / "no" / "such" / "file").string()), mcpp::Error);
}

TEST_CASE("shared test data is found") {
  REQUIRE(fs::exists(mcpp::test::data_file("text/fortunes.jsonl")));
}
