#pragma once
// A collective started by one of Communicator's *_async calls. wait() makes its result visible to
// everything issued afterwards: a host communicator (MPI) completes the operation there, so the
// host blocks; a device communicator (NCCL) makes the compute stream wait for it, so the host
// does not. Until wait() the operation's buffers belong to the communicator: compute must not
// write its inputs nor read its outputs. The handle keeps those buffers alive, so memory the
// caller drops meanwhile is not handed out again while the communicator still uses it.
// Destroying a handle that was not waited for waits.
#include <functional>
#include <utility>

namespace mcpp::comm {

class PendingCollective {
 public:
  PendingCollective() = default;  // nothing in flight: the operation completed in the call
  explicit PendingCollective(std::function<void()> complete) : complete_(std::move(complete)) {}
  PendingCollective(PendingCollective&& other) noexcept : complete_(std::exchange(other.complete_, nullptr)) {}
  PendingCollective& operator=(PendingCollective&& other);  // waits for this one's operation first
  PendingCollective(const PendingCollective&) = delete;
  PendingCollective& operator=(const PendingCollective&) = delete;
  ~PendingCollective();

  bool in_flight() const { return static_cast<bool>(complete_); }
  // Idempotent: the second call does nothing.
  void wait();

 private:
  std::function<void()> complete_;
};

}  // namespace mcpp::comm
