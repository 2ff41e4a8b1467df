#pragma once
// The Communicator over an MPI communicator, for host (CPU) tensors: every parallel algorithm
// runs on CPU through it, in tests under `mpirun --oversubscribe` and in CPU training runs.
// fp32 / int32 / int64 / uint8 reduce natively; bf16 and fp16 are reduced in fp32 and rounded
// back. Non-reducing operations move raw bytes, so every dtype works.
#include <mpi.h>

#include <memory>
#include <string>

#include "core/comm/communicator.h"
#include "parallel/watchdog.h"

namespace mcpp::parallel {

class MpiCommunicator final : public comm::Communicator {
 public:
  // Takes ownership of `comm` (freed in the destructor unless it is MPI_COMM_WORLD/SELF). `name`
  // (tp, dp, ...) names the group in watchdog messages; with a watchdog every operation is
  // registered with it while in flight.
  explicit MpiCommunicator(MPI_Comm comm, std::string name = "world", std::shared_ptr<Watchdog> watchdog = nullptr);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  // A communicator over MPI_COMM_WORLD (not freed).
  static MpiCommunicator world();

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm handle() const { return comm_; }
  const std::string& name() const { return name_; }

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

  // Non-blocking where MPI can (fp32 sums; in-place or separate gathers), blocking otherwise.
  // A reduce-scatter into a slice of its own input goes through a separate result that wait()
  // copies into place (MPI forbids the aliasing).
  comm::PendingCollective all_reduce_async(const Tensor& tensor, comm::ReduceOp op = comm::ReduceOp::sum) override;
  comm::PendingCollective reduce_scatter_async(const Tensor& input, const Tensor& output,
                                               comm::ReduceOp op = comm::ReduceOp::sum) override;
  comm::PendingCollective all_gather_async(const Tensor& input, const Tensor& output) override;
  comm::PendingCollective reduce_async(const Tensor& tensor, int root, comm::ReduceOp op = comm::ReduceOp::sum) override;

 private:
  // The MPI requests behind the *_async forms. Non-blocking all-reduce (sum) of an fp32 tensor;
  // the tensor must not be touched until wait(). The watchdog sees it in flight until wait().
  MPI_Request start_all_reduce(const Tensor& tensor);
  // Non-blocking reduce-scatter (sum) of fp32 `input` into `output` (same rules as reduce_scatter;
  // output must not overlap input).
  MPI_Request start_reduce_scatter(const Tensor& input, const Tensor& output);
  // Non-blocking reduce (sum) of an fp32 tensor in place onto `root`.
  MPI_Request start_reduce(const Tensor& tensor, int root);
  static void wait(MPI_Request& request);

  MpiCommunicator(MPI_Comm comm, bool owned, std::string name, std::shared_ptr<Watchdog> watchdog);
  void watch_request(MPI_Request request, const char* op);

  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  std::string name_;
  std::shared_ptr<Watchdog> watchdog_;
  int rank_ = 0, size_ = 1;
};

}  // namespace mcpp::parallel
