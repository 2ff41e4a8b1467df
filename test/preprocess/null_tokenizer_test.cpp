#include <catch2/catch.hpp>

#include "core/base/error.h"
#include "data/tokenizers/null_tokenizer.h"

using mcpp::data::NullTokenizer;

TEST_CASE("NullTokenizer parses space-separated ids with Megatron's defaults") {
  NullTokenizer tok(1000, std::nullopt);
  CHECK(tok.vocab_size() == 1000);
  CHECK(tok.eod() == 999);
  CHECK(tok.encode("1 22 333") == std::vector<int32_t>{1, 22, 333});
  CHECK(tok.encode("7") == std::vector<int32_t>{7});
  CHECK(tok.encode("+5 -0 6\n").size() == 3);  // what Python's int() accepts
  CHECK(tok.encode("").empty());
  CHECK(tok.decode(std::vector<int32_t>{4, 5, 6}) == "4 5 6");
  CHECK(NullTokenizer(1000, 3).eod() == 3);
  CHECK(tok.description().find("\"vocab_size\":1000") != std::string::npos);
}

TEST_CASE("NullTokenizer rejects non-integers and out-of-range ids") {
  NullTokenizer tok(1000, std::nullopt);
  CHECK_THROWS_WITH(tok.encode("1 x 2"), Catch::Contains("'x' is not an integer id"));
  CHECK_THROWS_WITH(tok.encode("1  2"), Catch::Contains("not an integer id"));
  CHECK_THROWS_WITH(tok.encode("1 "), Catch::Contains("not an integer id"));
  CHECK_THROWS_WITH(tok.encode("1000"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(tok.encode("99999999999999999999"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(tok.encode("-3"), Catch::Contains("negative"));
  CHECK_THROWS_AS(NullTokenizer(0, std::nullopt), mcpp::Error);
}
