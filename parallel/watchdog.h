#pragma once
// The watchdog behind --distributed-timeout-minutes. When one rank never enters a collective that
// the others wait in (a crash elsewhere, a code path taken by some ranks only), the others would
// wait forever; Megatron's NCCL process groups time out instead. Here every collective and
// point-to-point operation of a communicator is registered as "in flight" while it runs, and a
// background thread ends the process with one line on stderr when one stays in flight longer than
// the timeout:
//   rank R: collective <op> on group <group> did not finish within N minutes (--distributed-timeout-minutes); exiting
// Under mpirun the non-zero exit of one rank ends the whole job.
//
// Host-blocking operations (MPI) are in flight until the call returns. Device operations (NCCL)
// are in flight until their completion probe (a CUDA event query) says the GPU finished them;
// the probe is called from the watchdog thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace mcpp::parallel {

struct DistributedTimeout {
  std::chrono::milliseconds duration{0};  // 0: no watchdog
  std::string source;                     // what set it, named in the timeout message
};

// The timeout for --distributed-timeout-minutes = `minutes`, unless the environment variable
// MCPP_DISTRIBUTED_TIMEOUT_SECONDS (a positive number; tests use a few seconds) overrides it.
DistributedTimeout distributed_timeout(int64_t minutes);

class Watchdog {
 public:
  using Id = uint64_t;
  // Starts the watchdog thread. `rank` is the world rank named in the message.
  Watchdog(DistributedTimeout timeout, int rank);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  const DistributedTimeout& timeout() const { return timeout_; }

  // Registers operation `op` on group `group` as in flight from now on.
  Id begin(const std::string& group, const char* op);
  // The operation has finished.
  void end(Id id);
  // The host part has finished; the operation stays in flight until `finished()` returns true.
  void end_when(Id id, std::function<bool()> finished);

  // Operations in flight now (tests).
  size_t in_flight() const;

 private:
  struct Operation {
    std::string group;
    const char* op;
    std::chrono::steady_clock::time_point start;
    std::function<bool()> finished;  // empty while the host part runs
  };

  void watch();
  [[noreturn]] void expire(const Operation& operation) const;

  const DistributedTimeout timeout_;
  const int rank_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<Id, Operation> in_flight_;
  Id next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

// Registers one operation for the lifetime of the scope (nothing when `watchdog` is null), so an
// exception thrown by the operation clears it too. release_when() hands a device operation's
// completion probe to the watchdog instead.
class WatchedOperation {
 public:
  WatchedOperation(Watchdog* watchdog, const std::string& group, const char* op)
      : watchdog_(watchdog), id_(watchdog ? watchdog->begin(group, op) : 0) {}
  ~WatchedOperation() {
    if (watchdog_) watchdog_->end(id_);
  }
  WatchedOperation(const WatchedOperation&) = delete;
  WatchedOperation& operator=(const WatchedOperation&) = delete;

  void release_when(std::function<bool()> finished) {
    if (watchdog_) watchdog_->end_when(id_, std::move(finished));
    watchdog_ = nullptr;
  }

 private:
  Watchdog* watchdog_;
  Watchdog::Id id_;
};

}  // namespace mcpp::parallel
