#include "core/base/env_switch.h"

#include <cstdlib>
#include <string>

#include "core/base/error.h"

namespace mcpp {

bool env_switch(const char* name, bool default_value) {
  const char* value = std::getenv(name);
  if (value == nullptr) return default_value;
  const std::string v = value;
  check(v == "0" || v == "1", std::string(name) + "='" + v + "' must be 0 or 1 (or unset)");
  return v == "1";
}

}  // namespace mcpp
