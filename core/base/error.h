#pragma once
// User-facing errors. Every failure a user can cause (bad flag, bad file, bad data) is raised as
// mcpp::Error with a one-line message that names the file or flag and says what to do; programs
// catch it in main(), print "error: <message>" to stderr and exit with a non-zero status.
#include <stdexcept>
#include <string>

namespace mcpp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws mcpp::Error(message) when `condition` is false.
inline void check(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace mcpp
