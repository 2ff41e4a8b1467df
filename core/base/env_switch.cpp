#include "core/base/env_switch.h"

#include <cerrno>
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

int64_t env_count(const char* name, int64_t default_value, int64_t limit) {
  const char* value = std::getenv(name);
  if (value == nullptr) return default_value;
  char* end = nullptr;
  errno = 0;
  const long long count = std::strtoll(value, &end, 10);
  check(*value >= '0' && *value <= '9' && *end == '\0' && errno == 0 && count < limit,
        std::string(name) + "='" + value + "' must be an integer from 0 to " + std::to_string(limit - 1) +
            " (or unset)");
  return count;
}

}  // namespace mcpp
