#pragma once
// Logging for host code (not for .cu files: nvcc's C++20 mode rejects fmt 9).
// Messages go to stderr with a short level tag; `log_once` deduplicates notices such as
// "flag X is accepted but has no effect".
#include <spdlog/spdlog.h>

#include <string>

namespace mcpp::log {

// Sets up the default logger once (stderr, "[level] message"). Safe to call many times.
void init();

template <typename... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  init();
  spdlog::info(fmt, std::forward<Args>(args)...);
}

template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  init();
  spdlog::warn(fmt, std::forward<Args>(args)...);
}

template <typename... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  init();
  spdlog::debug(fmt, std::forward<Args>(args)...);
}

// Logs `message` at info level the first time it is seen in this process.
void info_once(const std::string& message);

}  // namespace mcpp::log
