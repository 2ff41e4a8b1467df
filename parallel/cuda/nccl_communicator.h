#pragma once
// The Communicator over NCCL, for CUDA tensors: the GPU counterpart of MpiCommunicator, with the
// same operations and semantics (parts, in-place forms, peers as group ranks).
//
// Creation: the group's rank 0 makes an ncclUniqueId and broadcasts it over the group's MPI
// communicator; every member then joins with ncclCommInitRank on the current CUDA device. Each
// group bootstraps on its own (no world NCCL communicator to split from), so a group costs
// nothing on ranks outside it and its rank order is exactly the MPI group's.
//
// Ordering: NCCL work runs on a stream of its own, fenced with events against the compute stream
// (current_stream()) on both sides: it starts after all compute work issued before the call and
// all compute work issued after the call starts after it. "Blocking" therefore means what it
// means for kernels: the result is there for everything issued later, and a host copy of it
// waits for it. The *_async forms leave out the second fence until the handle's wait(), so
// compute issued in between runs while NCCL works (overlapped gradient reduction and parameter
// gathers); the handle holds the tensors, so the caching allocator cannot hand their memory to
// compute work before that wait.
//
// Symmetric windows (collective_buffer): the data-parallel gradient and parameter buffers are
// allocated by NCCL (ncclMemAlloc) and registered as symmetric windows, and the communicator asks
// NCCL to use no SMs where it can (CTA policy "zero"). All-gathers within such a buffer then run
// on the copy engines, and sums within it use NCCL's symmetric kernels, which read the peers'
// memory directly with fewer SMs than the ring kernels. Those kernels only sum, so an average
// within a window is a sum followed by a scaling pass on the NCCL stream. MCPP_NCCL_WINDOWS=0
// turns windows off (ordinary buffers, ring kernels, PreMulSum averages).
//
// Reductions: fp32, bf16, fp16, int32, int64 and uint8 reduce natively in NCCL (bf16 sums are
// accumulated the way NCCL does, as in Megatron, not in fp32 like the MPI communicator; results
// agree exactly where every partial sum is representable). Operations that do not reduce move
// bytes, so every dtype works.
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <memory>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "parallel/watchdog.h"

namespace mcpp::parallel {

class NcclCommunicator final : public comm::Communicator {
 public:
  // Collective over `group` (every member calls it, on the CUDA device it will use). `group` is
  // only used while constructing and stays the caller's. `name` names the group in watchdog
  // messages; with a watchdog every operation is in flight until the GPU has finished it.
  NcclCommunicator(MPI_Comm group, std::string name, std::shared_ptr<Watchdog> watchdog = nullptr);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const { return name_; }
  int device() const { return device_; }

  void all_reduce(const Tensor& tensor, comm::ReduceOp op = comm::ReduceOp::sum) override;
  void reduce_scatter(const Tensor& input, const Tensor& output, comm::ReduceOp op = comm::ReduceOp::sum) override;
  void all_gather(const Tensor& input, const Tensor& output) override;
  void broadcast(const Tensor& tensor, int root) override;
  void reduce(const Tensor& tensor, int root, comm::ReduceOp op = comm::ReduceOp::sum) override;
  void send(const Tensor& tensor, int peer) override;
  void recv(const Tensor& tensor, int peer) override;
  void send_recv(const Tensor& send, int dest, const Tensor& recv, int source) override;
  void exchange(std::span<const comm::P2POp> ops) override;
  void barrier() override;

  comm::PendingCollective all_reduce_async(const Tensor& tensor, comm::ReduceOp op = comm::ReduceOp::sum) override;
  comm::PendingCollective reduce_scatter_async(const Tensor& input, const Tensor& output,
                                               comm::ReduceOp op = comm::ReduceOp::sum) override;
  comm::PendingCollective all_gather_async(const Tensor& input, const Tensor& output) override;
  comm::PendingCollective reduce_async(const Tensor& tensor, int root, comm::ReduceOp op = comm::ReduceOp::sum) override;

  Tensor collective_buffer(int64_t numel, DType dtype, Device device) override;
  // Whether `tensor` lies inside one of this communicator's symmetric windows.
  bool in_window(const Tensor& tensor) const;

 private:
  // The blocking and *_async collectives share these; only the *_async forms announce the
  // collective to the GEMMs that will run beside it (announce_overlap).
  comm::PendingCollective begin_all_reduce(const Tensor& tensor, comm::ReduceOp op);
  comm::PendingCollective begin_reduce_scatter(const Tensor& input, const Tensor& output, comm::ReduceOp op);
  comm::PendingCollective begin_all_gather(const Tensor& input, const Tensor& output);
  comm::PendingCollective begin_reduce(const Tensor& tensor, int root, comm::ReduceOp op);
  // Outside a window, or inside with a 16-byte aligned start and size (symmetric_aligned's note).
  bool symmetric_aligned(const Tensor& tensor) const;
  // The reduction NCCL runs for `op` over `tensor` (average within a window: a plain sum, scaled
  // afterwards by scale_average()).
  comm::ReduceOp nccl_op(comm::ReduceOp op, const Tensor& tensor) const;
  // After a sum that stands for an average (nccl_op): multiplies `result` by 1/size on stream_.
  void scale_average(const Tensor& result) const;
  // `link_bytes`: what the collective moves through each rank's links.
  void announce_overlap(double link_bytes) const;
  // Issues `enqueue` (NCCL calls on stream_) after the compute stream's past work, registered
  // with the watchdog as `op` until the GPU has finished it. The handle's wait() orders the
  // compute stream's future work after it; `keep_alive` (the operation's tensors) lives until then.
  template <typename Enqueue>
  comm::PendingCollective start(const char* op, Enqueue&& enqueue, std::vector<Tensor> keep_alive);
  // start() and wait at once: the blocking operations.
  template <typename Enqueue>
  void run(const char* op, Enqueue&& enqueue);
  // The sends and receives of `ops` as one NCCL group, blocking (send_recv, exchange).
  void run_group(const char* op, std::span<const comm::P2POp> ops);

  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;  // recorded on the compute stream before each operation
  int device_ = 0;
  int rank_ = 0, size_ = 1;
  std::string name_;
  std::shared_ptr<Watchdog> watchdog_;
  // The symmetric windows still registered; shared with the buffers' release functions, which
  // deregister their window while the communicator lives (it deregisters the rest when it goes).
  struct Windows;
  std::shared_ptr<Windows> windows_;
};

}  // namespace mcpp::parallel
