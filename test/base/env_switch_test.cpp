// The MCPP_* on/off tuning switches.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "core/base/env_switch.h"

using namespace mcpp;

TEST_CASE("an environment switch is its default when unset, 1 or 0 when set, an error otherwise") {
  constexpr const char* kName = "MCPP_TEST_ENV_SWITCH";
  unsetenv(kName);
  CHECK(env_switch(kName, true));
  CHECK(!env_switch(kName, false));
  setenv(kName, "0", 1);
  CHECK(!env_switch(kName, true));
  setenv(kName, "1", 1);
  CHECK(env_switch(kName, false));
  setenv(kName, "yes", 1);
  CHECK_THROWS_WITH(env_switch(kName, true), "MCPP_TEST_ENV_SWITCH='yes' must be 0 or 1 (or unset)");
  unsetenv(kName);
}

TEST_CASE("an environment count is its default when unset, the integer when set, an error otherwise") {
  constexpr const char* kName = "MCPP_TEST_ENV_COUNT";
  unsetenv(kName);
  CHECK(env_count(kName, 7, 100) == 7);
  setenv(kName, "0", 1);
  CHECK(env_count(kName, 7, 100) == 0);
  setenv(kName, "99", 1);
  CHECK(env_count(kName, 7, 100) == 99);
  for (const char* bad : {"100", "-1", "", "12x", " 3", "+3", "99999999999999999999999"}) {
    setenv(kName, bad, 1);
    CHECK_THROWS_WITH(env_count(kName, 7, 100),
                      std::string("MCPP_TEST_ENV_COUNT='") + bad + "' must be an integer from 0 to 99 (or unset)");
  }
  unsetenv(kName);
}
