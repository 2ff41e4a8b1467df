#include "parallel/mpi_communicator.h"

#include <climits>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/error.h"
#include "core/kernels/elementwise.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::parallel {

namespace {

int count_of(const Tensor& tensor, const char* op) {
  check(tensor.defined(), std::string(op) + ": undefined tensor");
  check(tensor.device() == Device::CPU, std::string(op) + ": the MPI communicator moves host tensors only, got " +
                                            tensor.describe());
  check(tensor.numel() <= INT_MAX, std::string(op) + ": tensor of " + std::to_string(tensor.numel()) +
                                       " elements exceeds one MPI message; split it");
  return static_cast<int>(tensor.numel());
}

int byte_count(const Tensor& tensor, const char* op) {
  count_of(tensor, op);
  check(tensor.nbytes() <= size_t(INT_MAX), std::string(op) + ": tensor of " + std::to_string(tensor.nbytes()) +
                                                " bytes exceeds one MPI message; split it");
  return static_cast<int>(tensor.nbytes());
}

bool is_16bit_float(DType dtype) { return dtype == DType::BF16 || dtype == DType::F16; }

MPI_Datatype reduce_type(DType dtype, const char* op) {
  switch (dtype) {
    case DType::F32: return MPI_FLOAT;
    case DType::I32: return MPI_INT32_T;
    case DType::I64: return MPI_INT64_T;
    case DType::U8: return MPI_UINT8_T;
    default: break;
  }
  throw Error(std::string(op) + ": cannot reduce " + dtype_name(dtype) + " tensors over MPI");
}

MPI_Op mpi_op(comm::ReduceOp op) {
  check(op != comm::ReduceOp::average, "internal: ReduceOp::average reached MPI unscaled");
  return op == comm::ReduceOp::sum ? MPI_SUM : MPI_MAX;
}

Tensor as_f32(const Tensor& tensor) {
  Tensor widened = Tensor::empty(tensor.shape(), DType::F32);
  widened.copy_from(tensor);
  return widened;
}

// ReduceOp::average over MPI: the input multiplied by 1/size in place (16-bit floats through
// fp32, rounded back as NCCL rounds its product), then summed.
comm::ReduceOp prescale_average(const Tensor& input, comm::ReduceOp op, int size) {
  if (op != comm::ReduceOp::average) return op;
  const float factor = 1.0f / static_cast<float>(size);
  if (is_16bit_float(input.dtype())) {
    Tensor widened = as_f32(input);
    core::scale(widened, factor);
    input.copy_from(widened);
  } else {
    core::scale(input, factor);
  }
  return comm::ReduceOp::sum;
}

// Non-blocking operations stay registered with the watchdog until wait() completes them; wait()
// is static, so the registrations are kept by request (main thread only: MPI_THREAD_FUNNELED).
struct WatchedRequest {
  WatchedRequest(std::shared_ptr<Watchdog> watchdog, const std::string& group, const char* op)
      : keep_alive(std::move(watchdog)), operation(keep_alive.get(), group, op) {}
  std::shared_ptr<Watchdog> keep_alive;  // a request may outlive its communicator
  WatchedOperation operation;
};

std::unordered_map<MPI_Request, std::unique_ptr<WatchedRequest>>& watched_requests() {
  static std::unordered_map<MPI_Request, std::unique_ptr<WatchedRequest>> requests;
  return requests;
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, std::shared_ptr<Watchdog> watchdog)
    : MpiCommunicator(comm, true, std::move(name), std::move(watchdog)) {}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, bool owned, std::string name, std::shared_ptr<Watchdog> watchdog)
    : comm_(comm), owned_(owned), name_(std::move(name)), watchdog_(std::move(watchdog)) {
  check(comm != MPI_COMM_NULL, "internal: MpiCommunicator over MPI_COMM_NULL");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && !finalized && comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_SELF) MPI_Comm_free(&comm_);
}

MpiCommunicator MpiCommunicator::world() { return MpiCommunicator(MPI_COMM_WORLD, false, "world", nullptr); }

void MpiCommunicator::watch_request(MPI_Request request, const char* op) {
  if (watchdog_ && request != MPI_REQUEST_NULL)
    watched_requests()[request] = std::make_unique<WatchedRequest>(watchdog_, name_, op);
}

void MpiCommunicator::all_reduce(const Tensor& tensor, comm::ReduceOp op) {
  const WatchedOperation watched(watchdog_.get(), name_, "all_reduce");
  const int count = count_of(tensor, "all_reduce");
  op = prescale_average(tensor, op, size_);
  if (is_16bit_float(tensor.dtype())) {
    Tensor widened = as_f32(tensor);
    all_reduce(widened, op);
    tensor.copy_from(widened);
    return;
  }
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, tensor.raw_data(), count, reduce_type(tensor.dtype(), "all_reduce"),
                          mpi_op(op), comm_),
            "MPI_Allreduce");
}

void MpiCommunicator::reduce_scatter(const Tensor& input, const Tensor& output, comm::ReduceOp op) {
  const WatchedOperation watched(watchdog_.get(), name_, "reduce_scatter");
  const int count = count_of(output, "reduce_scatter");
  check(input.numel() == int64_t(count) * size_ && input.dtype() == output.dtype(),
        "reduce_scatter: input " + input.describe() + " must hold " + std::to_string(size_) + " x output " +
            output.describe());
  op = prescale_average(input, op, size_);
  if (is_16bit_float(input.dtype())) {
    Tensor result = Tensor::empty(output.shape(), DType::F32);
    reduce_scatter(as_f32(input), result, op);
    output.copy_from(result);
    return;
  }
  if (input.overlaps(output)) {  // e.g. a bucket reduced into its own slice: MPI forbids aliasing
    Tensor result = Tensor::empty(output.shape(), output.dtype());
    reduce_scatter(input, result, op);
    output.copy_from(result);
    return;
  }
  check_mpi(MPI_Reduce_scatter_block(input.raw_data(), output.raw_data(), count,
                                     reduce_type(input.dtype(), "reduce_scatter"), mpi_op(op), comm_),
            "MPI_Reduce_scatter_block");
}

void MpiCommunicator::all_gather(const Tensor& input, const Tensor& output) {
  const WatchedOperation watched(watchdog_.get(), name_, "all_gather");
  const int bytes = byte_count(input, "all_gather");
  check(output.numel() == input.numel() * size_ && input.dtype() == output.dtype(),
        "all_gather: output " + output.describe() + " must hold " + std::to_string(size_) + " x input " +
            input.describe());
  byte_count(output, "all_gather");
  const Tensor own_part = output.sub(int64_t(rank_) * input.numel(), input.shape());
  if (input.storage() == own_part.storage() && input.offset() == own_part.offset()) {
    // The input already sits in this rank's part of the output (a parameter-buffer slice).
    check_mpi(MPI_Allgather(MPI_IN_PLACE, 0, MPI_BYTE, output.raw_data(), bytes, MPI_BYTE, comm_), "MPI_Allgather");
    return;
  }
  if (input.overlaps(output)) {
    Tensor copy = Tensor::empty(input.shape(), input.dtype());
    copy.copy_from(input);
    all_gather(copy, output);
    return;
  }
  check_mpi(MPI_Allgather(input.raw_data(), bytes, MPI_BYTE, output.raw_data(), bytes, MPI_BYTE, comm_),
            "MPI_Allgather");
}

void MpiCommunicator::broadcast(const Tensor& tensor, int root) {
  const WatchedOperation watched(watchdog_.get(), name_, "broadcast");
  check_root(root, "broadcast");
  check_mpi(MPI_Bcast(tensor.raw_data(), byte_count(tensor, "broadcast"), MPI_BYTE, root, comm_), "MPI_Bcast");
}

void MpiCommunicator::reduce(const Tensor& tensor, int root, comm::ReduceOp op) {
  const WatchedOperation watched(watchdog_.get(), name_, "reduce");
  check_root(root, "reduce");
  const int count = count_of(tensor, "reduce");
  op = prescale_average(tensor, op, size_);
  if (is_16bit_float(tensor.dtype())) {
    Tensor widened = as_f32(tensor);
    reduce(widened, root, op);
    tensor.copy_from(widened);
    return;
  }
  check_mpi(MPI_Reduce(rank_ == root ? MPI_IN_PLACE : tensor.raw_data(), tensor.raw_data(), count,
                       reduce_type(tensor.dtype(), "reduce"), mpi_op(op), root, comm_),
            "MPI_Reduce");
}

void MpiCommunicator::send(const Tensor& tensor, int peer) {
  const WatchedOperation watched(watchdog_.get(), name_, "send");
  check(peer >= 0 && peer < size_ && peer != rank_, "send: bad peer " + std::to_string(peer));
  check_mpi(MPI_Send(tensor.raw_data(), byte_count(tensor, "send"), MPI_BYTE, peer, 0, comm_), "MPI_Send");
}

void MpiCommunicator::recv(const Tensor& tensor, int peer) {
  const WatchedOperation watched(watchdog_.get(), name_, "recv");
  check(peer >= 0 && peer < size_ && peer != rank_, "recv: bad peer " + std::to_string(peer));
  const int bytes = byte_count(tensor, "recv");
  MPI_Status status;
  check_mpi(MPI_Recv(tensor.raw_data(), bytes, MPI_BYTE, peer, 0, comm_, &status), "MPI_Recv");
  int received = 0;
  MPI_Get_count(&status, MPI_BYTE, &received);
  check(received == bytes, "recv: expected " + std::to_string(bytes) + " bytes from rank " + std::to_string(peer) +
                               ", got " + std::to_string(received) + " (the stages disagree on the tensor shape)");
}

void MpiCommunicator::send_recv(const Tensor& send, int dest, const Tensor& recv, int source) {
  const WatchedOperation watched(watchdog_.get(), name_, "send_recv");
  check(dest >= 0 && dest < size_ && dest != rank_ && source >= 0 && source < size_ && source != rank_,
        "send_recv: bad peers " + std::to_string(dest) + " / " + std::to_string(source));
  const int bytes = byte_count(recv, "send_recv");
  MPI_Status status;
  check_mpi(MPI_Sendrecv(send.raw_data(), byte_count(send, "send_recv"), MPI_BYTE, dest, 0, recv.raw_data(), bytes,
                         MPI_BYTE, source, 0, comm_, &status),
            "MPI_Sendrecv");
  int received = 0;
  MPI_Get_count(&status, MPI_BYTE, &received);
  check(received == bytes, "send_recv: expected " + std::to_string(bytes) + " bytes from rank " +
                               std::to_string(source) + ", got " + std::to_string(received));
}

void MpiCommunicator::exchange(std::span<const comm::P2POp> ops) {
  if (ops.empty()) return;
  const WatchedOperation watched(watchdog_.get(), name_, "exchange");
  std::vector<int> bytes(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {  // all checked before any transfer starts
    check(ops[i].peer >= 0 && ops[i].peer < size_ && ops[i].peer != rank_,
          std::string("exchange: bad ") + (ops[i].kind == comm::P2POp::Kind::send ? "send" : "recv") + " peer " +
              std::to_string(ops[i].peer));
    bytes[i] = byte_count(ops[i].tensor, "exchange");
  }
  // Tag 0 like send / recv: MPI matches messages of one tag between two ranks in posting order,
  // which is the order contract of exchange().
  std::vector<MPI_Request> requests(ops.size(), MPI_REQUEST_NULL);
  for (size_t i = 0; i < ops.size(); ++i) {
    const comm::P2POp& op = ops[i];
    const bool send = op.kind == comm::P2POp::Kind::send;
    const int result = send ? MPI_Isend(op.tensor.raw_data(), bytes[i], MPI_BYTE, op.peer, 0, comm_, &requests[i])
                            : MPI_Irecv(op.tensor.raw_data(), bytes[i], MPI_BYTE, op.peer, 0, comm_, &requests[i]);
    if (result != MPI_SUCCESS) {
      // Posted requests must complete before their buffers can go: the peers post the rest too.
      MPI_Waitall(static_cast<int>(i), requests.data(), MPI_STATUSES_IGNORE);
      check_mpi(result, send ? "MPI_Isend" : "MPI_Irecv");
    }
  }
  std::vector<MPI_Status> statuses(ops.size());
  check_mpi(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), statuses.data()), "MPI_Waitall");
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind != comm::P2POp::Kind::recv) continue;
    int received = 0;
    MPI_Get_count(&statuses[i], MPI_BYTE, &received);
    check(received == bytes[i], "exchange: expected " + std::to_string(bytes[i]) + " bytes from rank " +
                                    std::to_string(ops[i].peer) + ", got " + std::to_string(received) +
                                    " (the ranks list their transfers in different orders or shapes)");
  }
}

void MpiCommunicator::barrier() {
  const WatchedOperation watched(watchdog_.get(), name_, "barrier");
  check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
}

MPI_Request MpiCommunicator::start_all_reduce(const Tensor& tensor) {
  check(tensor.dtype() == DType::F32, "start_all_reduce: fp32 tensors only, got " + tensor.describe());
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, tensor.raw_data(), count_of(tensor, "start_all_reduce"), MPI_FLOAT,
                           MPI_SUM, comm_, &request),
            "MPI_Iallreduce");
  watch_request(request, "all_reduce");
  return request;
}

MPI_Request MpiCommunicator::start_reduce_scatter(const Tensor& input, const Tensor& output) {
  const int count = count_of(output, "start_reduce_scatter");
  check(input.dtype() == DType::F32 && output.dtype() == DType::F32 && input.numel() == int64_t(count) * size_ &&
            !input.overlaps(output),
        "start_reduce_scatter: fp32 input of size() x output elements, not overlapping the output");
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ireduce_scatter_block(input.raw_data(), output.raw_data(), count, MPI_FLOAT, MPI_SUM, comm_,
                                      &request),
            "MPI_Ireduce_scatter_block");
  watch_request(request, "reduce_scatter");
  return request;
}

MPI_Request MpiCommunicator::start_reduce(const Tensor& tensor, int root) {
  check(tensor.dtype() == DType::F32, "start_reduce: fp32 tensors only, got " + tensor.describe());
  MPI_Request request = MPI_REQUEST_NULL;
  // The root reduces into its own tensor; MPI reads the others' as send buffers.
  check_mpi(MPI_Ireduce(rank_ == root ? MPI_IN_PLACE : tensor.raw_data(), tensor.raw_data(),
                        count_of(tensor, "start_reduce"), MPI_FLOAT, MPI_SUM, root, comm_, &request),
            "MPI_Ireduce");
  watch_request(request, "reduce");
  return request;
}

comm::PendingCollective MpiCommunicator::all_reduce_async(const Tensor& tensor, comm::ReduceOp op) {
  count_of(tensor, "all_reduce");
  op = prescale_average(tensor, op, size_);
  if (tensor.dtype() != DType::F32 || op != comm::ReduceOp::sum) return Communicator::all_reduce_async(tensor, op);
  // The handle holds the tensor: its memory stays MPI's until the request completes.
  return comm::PendingCollective([request = start_all_reduce(tensor), tensor]() mutable { wait(request); });
}

comm::PendingCollective MpiCommunicator::reduce_scatter_async(const Tensor& input, const Tensor& output,
                                                              comm::ReduceOp op) {
  count_of(input, "reduce_scatter");
  op = prescale_average(input, op, size_);
  if (input.dtype() != DType::F32 || output.dtype() != DType::F32 || op != comm::ReduceOp::sum)
    return Communicator::reduce_scatter_async(input, output, op);
  if (!input.overlaps(output))
    return comm::PendingCollective([request = start_reduce_scatter(input, output), input, output]() mutable {
      wait(request);
    });
  const Tensor result = Tensor::empty(output.shape(), DType::F32);
  return comm::PendingCollective([request = start_reduce_scatter(input, result), input, output, result]() mutable {
    wait(request);
    output.copy_from(result);
  });
}

comm::PendingCollective MpiCommunicator::all_gather_async(const Tensor& input, const Tensor& output) {
  const int bytes = byte_count(input, "all_gather");
  byte_count(output, "all_gather");
  check(output.numel() == input.numel() * size_ && input.dtype() == output.dtype(),
        "all_gather: output " + output.describe() + " must hold " + std::to_string(size_) + " x input " +
            input.describe());
  const Tensor own_part = output.sub(int64_t(rank_) * input.numel(), input.shape());
  const bool in_place = input.storage() == own_part.storage() && input.offset() == own_part.offset();
  if (!in_place && input.overlaps(output)) return Communicator::all_gather_async(input, output);
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallgather(in_place ? MPI_IN_PLACE : input.raw_data(), in_place ? 0 : bytes, MPI_BYTE,
                           output.raw_data(), bytes, MPI_BYTE, comm_, &request),
            "MPI_Iallgather");
  watch_request(request, "all_gather");
  return comm::PendingCollective([request, input, output]() mutable { wait(request); });
}

comm::PendingCollective MpiCommunicator::reduce_async(const Tensor& tensor, int root, comm::ReduceOp op) {
  check_root(root, "reduce");
  count_of(tensor, "reduce");
  op = prescale_average(tensor, op, size_);
  if (tensor.dtype() != DType::F32 || op != comm::ReduceOp::sum) {
    reduce(tensor, root, op);
    return {};
  }
  return comm::PendingCollective([request = start_reduce(tensor, root), tensor]() mutable { wait(request); });
}

void MpiCommunicator::wait(MPI_Request& request) {
  std::unique_ptr<WatchedRequest> watched;  // cleared when this returns (or throws)
  if (auto node = watched_requests().extract(request); !node.empty()) watched = std::move(node.mapped());
  check_mpi(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait");
}

}  // namespace mcpp::parallel
