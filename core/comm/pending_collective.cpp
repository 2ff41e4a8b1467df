#include "core/comm/pending_collective.h"

namespace mcpp::comm {

PendingCollective& PendingCollective::operator=(PendingCollective&& other) {
  if (this != &other) {
    wait();
    complete_ = std::exchange(other.complete_, nullptr);
  }
  return *this;
}

PendingCollective::~PendingCollective() {
  // Runs during unwinding too: an error here has nowhere to go, and the operation's own failure
  // (a peer gone) is reported by the watchdog or the next blocking call.
  try {
    wait();
  } catch (...) {
  }
}

void PendingCollective::wait() {
  // Cleared first: a completion that throws is not retried by the destructor.
  std::function<void()> complete = std::exchange(complete_, nullptr);
  if (complete) complete();
}

}  // namespace mcpp::comm
