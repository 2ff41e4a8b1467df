// The MCPP_* on/off tuning switches.
#include <catch2/catch.hpp>

#include <cstdlib>

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
