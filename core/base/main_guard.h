#pragma once
// Wraps a program's real main so that every mcpp::Error (and any other exception) becomes one
// line on stderr and a non-zero exit status, never a stack trace or an abort.
#include <cstdio>
#include <exception>
#include <functional>

#include "core/base/error.h"

namespace mcpp {

inline int run_main(const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    return 2;
  }
}

}  // namespace mcpp
