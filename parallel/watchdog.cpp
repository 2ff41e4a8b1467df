#include "parallel/watchdog.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/base/error.h"

namespace mcpp::parallel {

namespace {
constexpr const char* kTimeoutVariable = "MCPP_DISTRIBUTED_TIMEOUT_SECONDS";

// "10 minutes", "1 minute", "2 seconds", "0.5 seconds".
std::string describe_duration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  char text[64];
  if (ms % 60000 == 0) {
    std::snprintf(text, sizeof text, "%lld minute%s", static_cast<long long>(ms / 60000), ms == 60000 ? "" : "s");
  } else {
    std::snprintf(text, sizeof text, "%g second%s", double(ms) / 1000.0, ms == 1000 ? "" : "s");
  }
  return text;
}
}  // namespace

DistributedTimeout distributed_timeout(int64_t minutes) {
  if (const char* value = std::getenv(kTimeoutVariable); value != nullptr && *value != '\0') {
    char* end = nullptr;
    const double seconds = std::strtod(value, &end);
    check(*end == '\0' && std::isfinite(seconds) && seconds > 0,
          std::string(kTimeoutVariable) + "='" + value + "' is not a positive number of seconds; unset it or fix it");
    const auto ms = std::max<int64_t>(1, static_cast<int64_t>(std::llround(seconds * 1000.0)));
    return {std::chrono::milliseconds(ms), kTimeoutVariable};
  }
  check(minutes >= 0, "--distributed-timeout-minutes must not be negative");
  return {std::chrono::minutes(minutes), "--distributed-timeout-minutes"};
}

Watchdog::Watchdog(DistributedTimeout timeout, int rank) : timeout_(std::move(timeout)), rank_(rank) {
  check(timeout_.duration.count() > 0, "internal: a watchdog needs a positive timeout");
  thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Watchdog::Id Watchdog::begin(const std::string& group, const char* op) {
  std::lock_guard lock(mutex_);
  const Id id = next_id_++;
  in_flight_.emplace(id, Operation{group, op, std::chrono::steady_clock::now(), {}});
  return id;
}

void Watchdog::end(Id id) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(id);
}

void Watchdog::end_when(Id id, std::function<bool()> finished) {
  std::lock_guard lock(mutex_);
  const auto it = in_flight_.find(id);
  if (it != in_flight_.end()) it->second.finished = std::move(finished);
}

size_t Watchdog::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_.size();
}

void Watchdog::watch() {
  // Checking a few times per timeout keeps the overshoot small without busy polling.
  const auto interval = std::clamp<std::chrono::milliseconds>(timeout_.duration / 20, std::chrono::milliseconds(10),
                                                              std::chrono::milliseconds(1000));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval);
    if (stopping_) break;

    // Completion probes query the GPU: call them without holding the lock, so the operations'
    // own threads never wait for a device query.
    std::vector<std::pair<Id, std::function<bool()>>> probes;
    for (const auto& [id, operation] : in_flight_)
      if (operation.finished) probes.emplace_back(id, operation.finished);
    lock.unlock();
    std::vector<Id> done;
    for (const auto& [id, finished] : probes)
      if (finished()) done.push_back(id);
    probes.clear();
    lock.lock();
    std::vector<Operation> retired;
    for (Id id : done) {
      auto node = in_flight_.extract(id);
      if (!node.empty()) retired.push_back(std::move(node.mapped()));
    }

    const auto now = std::chrono::steady_clock::now();
    for (const auto& [id, operation] : in_flight_)
      if (now - operation.start > timeout_.duration) expire(operation);
    lock.unlock();
    retired.clear();  // the last copies of finished probes: released outside the lock
    lock.lock();
  }
}

void Watchdog::expire(const Operation& operation) const {
  std::fprintf(stderr, "rank %d: collective %s on group %s did not finish within %s (%s); exiting\n", rank_,
               operation.op, operation.group.c_str(), describe_duration(timeout_.duration).c_str(),
               timeout_.source.c_str());
  std::fflush(stderr);
  // Other threads may be blocked inside MPI or CUDA: leave without running destructors.
  std::_Exit(1);
}

}  // namespace mcpp::parallel
