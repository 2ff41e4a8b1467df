#include "core/base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

#include <mutex>
#include <set>

namespace mcpp::log {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = spdlog::stderr_logger_mt("mcpp");
    logger->set_pattern("[%l] %v");
    spdlog::set_default_logger(logger);
    if (const char* level = std::getenv("MCPP_LOG_LEVEL")) {
      spdlog::set_level(spdlog::level::from_str(level));
    }
  });
}

void info_once(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  std::lock_guard lock(mutex);
  if (seen.insert(message).second) info("{}", message);
}

}  // namespace mcpp::log
