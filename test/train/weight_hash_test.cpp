// The weight-hash check of data-parallel replicas (app/weight_hash.h): the hash and the
// comparison; the MPI training test runs the check end to end.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "app/weight_hash.h"

using mcpp::app::differing_replicas;
using mcpp::app::fnv1a64;

TEST_CASE("FNV-1a 64 matches its published test vectors and chains over pieces") {
  CHECK(fnv1a64("", 0) == 14695981039346656037ull);
  CHECK(fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
  CHECK(fnv1a64("bar", 3, fnv1a64("foo", 3)) == fnv1a64("foobar", 6));
}

TEST_CASE("differing replicas are found, equal ones pass") {
  CHECK_FALSE(differing_replicas({7}));
  CHECK_FALSE(differing_replicas({7, 7, 7, 7}));
  const auto pair = differing_replicas({7, 7, 8, 9});
  REQUIRE(pair);
  CHECK(pair->first == 0);
  CHECK(pair->second == 2);
}
