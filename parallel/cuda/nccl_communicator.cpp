#include "parallel/cuda/nccl_communicator.h"

#include <cstring>
#include <string>
#include <string_view>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/device_allocator.h"
#include "core/base/cuda/op_profile.h"
#include "core/base/cuda/stream.h"
#include "core/base/env_switch.h"
#include "core/base/error.h"
#include "core/kernels/cuda/gemm.h"
#include "core/kernels/cuda/gpu_ops.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::parallel {

namespace {

void check_nccl(ncclResult_t result, const char* what, ncclComm_t comm = nullptr) {
  if (result == ncclSuccess || result == ncclInProgress) return;
  std::string message = std::string(what) + " failed: " + ncclGetErrorString(result);
  if (const char* detail = ncclGetLastError(comm); detail != nullptr && *detail != '\0')
    message += std::string(" (") + detail + ")";
  throw Error(message + "; run with NCCL_DEBUG=WARN for NCCL's own report");
}

void check_device_tensor(const Tensor& tensor, const char* op) {
  check(tensor.defined(), std::string(op) + ": undefined tensor");
  check(tensor.device() == Device::CUDA,
        std::string(op) + ": the NCCL communicator moves CUDA tensors only, got " + tensor.describe());
}

ncclDataType_t reduce_type(DType dtype, const char* op) {
  switch (dtype) {
    case DType::F32: return ncclFloat32;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
    case DType::U8: return ncclUint8;
    default: break;
  }
  throw Error(std::string(op) + ": cannot reduce " + dtype_name(dtype) + " tensors over NCCL");
}

// The NCCL reduction of one call: ncclSum/ncclMax, or for ReduceOp::average a PreMulSum operator
// that multiplies every input by 1/size in the tensors' dtype before summing (Megatron's
// pre-divided gradient sum without a separate scaling pass). It is destroyed once the call is
// enqueued, which NCCL allows.
class NcclReduction {
 public:
  NcclReduction(comm::ReduceOp op, DType dtype, ncclDataType_t type, int size, ncclComm_t comm) : comm_(comm) {
    if (op != comm::ReduceOp::average) {
      op_ = op == comm::ReduceOp::sum ? ncclSum : ncclMax;
      return;
    }
    const float factor = 1.0f / static_cast<float>(size);
    union {
      float f32;
      bf16 b16;
      f16 h16;
    } scalar{};
    if (dtype == DType::BF16) {
      scalar.b16 = float_to_bf16(factor);
    } else if (dtype == DType::F16) {
      scalar.h16 = float_to_f16(factor);
    } else {
      check(dtype == DType::F32, std::string("average over NCCL needs a float tensor, got ") + dtype_name(dtype));
      scalar.f32 = factor;
    }
    check_nccl(ncclRedOpCreatePreMulSum(&op_, &scalar, type, ncclScalarHostImmediate, comm_),
               "ncclRedOpCreatePreMulSum", comm_);
    custom_ = true;
  }
  ~NcclReduction() {
    if (custom_) ncclRedOpDestroy(op_, comm_);
  }
  NcclReduction(const NcclReduction&) = delete;
  NcclReduction& operator=(const NcclReduction&) = delete;
  ncclRedOp_t op() const { return op_; }

 private:
  ncclComm_t comm_;
  ncclRedOp_t op_ = ncclSum;
  bool custom_ = false;
};

// A ring all-gather or reduce-scatter moves (size-1)/size of the whole tensor through each
// rank's links, an all-reduce twice that, a chained reduce the whole (reduced) tensor once.
double ring_share(int size) { return double(size - 1) / double(size); }

const char* bytes_of(const Tensor& tensor) { return static_cast<const char*>(tensor.raw_data()); }

// MCPP_PROFILE's name for the compute stream's wait on one kind of collective: the time the
// compute stream stalls there is the communication that overlap did not hide.
const char* wait_label(const char* op) {
  const std::string_view name = op;
  if (name == "all_reduce") return "wait: nccl all_reduce";
  if (name == "reduce_scatter") return "wait: nccl reduce_scatter";
  if (name == "reduce") return "wait: nccl reduce";
  if (name == "all_gather") return "wait: nccl all_gather";
  if (name == "broadcast") return "wait: nccl broadcast";
  return "wait: nccl send/recv";
}

// The event recorded on the NCCL stream after one operation, shared by the watchdog's probe and
// the operation's handle and destroyed with the last of them.
struct CompletionEvent {
  int device = 0;
  cudaEvent_t event = nullptr;
  ~CompletionEvent() {
    cudaSetDevice(device);
    cudaEventDestroy(event);
  }
  bool finished() const {
    cudaSetDevice(device);  // the watchdog thread has no current device of its own
    // Any answer but "not ready" ends the watch: errors surface on the main thread.
    return cudaEventQuery(event) != cudaErrorNotReady;
  }
};

}  // namespace

struct NcclCommunicator::Windows {
  struct Window {
    const char* begin;
    size_t bytes;
    ncclWindow_t handle;
  };
  bool enabled = false;
  int device = 0;
  ncclComm_t comm = nullptr;  // null once the communicator has deregistered everything
  std::vector<Window> live;

  const Window* find(const void* data, size_t bytes) const {
    const char* begin = static_cast<const char*>(data);
    for (const Window& window : live)
      if (begin >= window.begin && begin + bytes <= window.begin + window.bytes) return &window;
    return nullptr;
  }
  // A buffer's release: nothing may still use it, on any stream.
  void release(void* data) {
    cudaSetDevice(device);
    cudaDeviceSynchronize();
    for (auto it = live.begin(); it != live.end(); ++it) {
      if (it->begin != data) continue;
      if (comm != nullptr) ncclCommWindowDeregister(comm, it->handle);
      live.erase(it);
      break;
    }
    ncclMemFree(data);
  }
  void deregister_all() {
    for (const Window& window : live) ncclCommWindowDeregister(comm, window.handle);
    live.clear();
    comm = nullptr;
  }
};

NcclCommunicator::NcclCommunicator(MPI_Comm group, std::string name, std::shared_ptr<Watchdog> watchdog)
    : name_(std::move(name)), watchdog_(std::move(watchdog)) {
  check(group != MPI_COMM_NULL, "internal: NcclCommunicator over MPI_COMM_NULL");
  MPI_Comm_rank(group, &rank_);
  MPI_Comm_size(group, &size_);
  MCPP_CUDA_CHECK(cudaGetDevice(&device_));

  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, group), "MPI_Bcast of the NCCL unique id");
  windows_ = std::make_shared<Windows>();
  windows_->enabled = env_switch("MCPP_NCCL_WINDOWS", true);
  windows_->device = device_;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  // No SMs where NCCL can do without (copy-engine all-gathers within symmetric windows).
  if (windows_->enabled) config.CTAPolicy = NCCL_CTA_POLICY_ZERO;
  check_nccl(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config),
             ("ncclCommInitRankConfig for group " + name_ + " (rank " + std::to_string(rank_) + " of " +
              std::to_string(size_) + ", CUDA device " + std::to_string(device_) + ")")
                 .c_str());
  windows_->comm = comm_;

  MCPP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MCPP_CUDA_CHECK(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
}

NcclCommunicator::~NcclCommunicator() {
  // Errors are ignored: destructors run during unwinding too.
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);  // nothing of ours in flight when NCCL tears down
  if (windows_ && comm_) windows_->deregister_all();  // the buffers themselves may live on
  if (comm_) ncclCommDestroy(comm_);
  if (compute_ready_) cudaEventDestroy(compute_ready_);
  if (stream_) cudaStreamDestroy(stream_);
}

Tensor NcclCommunicator::collective_buffer(int64_t numel, DType dtype, Device device) {
  check(device == Device::CUDA, "internal: the NCCL communicator's collective buffers are CUDA tensors");
  if (!windows_->enabled || size_ == 1 || numel == 0) return Communicator::collective_buffer(numel, dtype, device);
  const size_t bytes = size_t(numel) * dtype_size(dtype);
  void* data = nullptr;
  check_nccl(ncclMemAlloc(&data, bytes), ("ncclMemAlloc of " + std::to_string(bytes) + " bytes").c_str(), comm_);
  // Collective over the group. Without symmetric-memory support NCCL registers nothing and
  // leaves `window` null: the buffer then works as ordinary memory.
  ncclWindow_t window = nullptr;
  const ncclResult_t registered = ncclCommWindowRegister(comm_, data, bytes, &window, NCCL_WIN_COLL_SYMMETRIC);
  if (registered != ncclSuccess) ncclMemFree(data);
  check_nccl(registered, ("ncclCommWindowRegister for group " + name_).c_str(), comm_);
  if (window != nullptr) windows_->live.push_back({static_cast<const char*>(data), bytes, window});
  MCPP_CUDA_CHECK(cudaMemsetAsync(data, 0, bytes, current_stream()));
  count_external_device_memory(bytes, true);
  auto storage = Storage::adopt(data, bytes, Device::CUDA, [windows = windows_, bytes](void* p) {
    windows->release(p);
    count_external_device_memory(bytes, false);
  });
  return Tensor::over(std::move(storage), {numel}, dtype);
}

// NCCL 2.28's symmetric reduce-scatter gave wrong sums for parts of 5 bf16 elements (byte offsets
// not a multiple of 16; all-reduces and all-gathers of such parts were right). A reduce-scatter
// within a window on such offsets goes through ordinary memory. The distributed optimizer's
// bucket parts are multiples of lcm(dp, 128) / dp fp32 elements, 16 bytes or more up to 32
// data-parallel ranks, so training there never takes that detour.
bool NcclCommunicator::symmetric_aligned(const Tensor& tensor) const {
  constexpr uintptr_t kAlignment = 16;
  return !in_window(tensor) ||
         (reinterpret_cast<uintptr_t>(tensor.raw_data()) % kAlignment == 0 && tensor.nbytes() % kAlignment == 0);
}

bool NcclCommunicator::in_window(const Tensor& tensor) const {
  return tensor.defined() && tensor.device() == Device::CUDA && windows_->find(tensor.raw_data(), tensor.nbytes());
}

comm::ReduceOp NcclCommunicator::nccl_op(comm::ReduceOp op, const Tensor& tensor) const {
  return op == comm::ReduceOp::average && in_window(tensor) ? comm::ReduceOp::sum : op;
}

void NcclCommunicator::scale_average(const Tensor& result) const {
  core::gpu::scale(result, 1.0f / static_cast<float>(size_), stream_);
}

template <typename Enqueue>
comm::PendingCollective NcclCommunicator::start(const char* op, Enqueue&& enqueue, std::vector<Tensor> keep_alive) {
  WatchedOperation watched(watchdog_.get(), name_, op);
  MCPP_CUDA_CHECK(cudaEventRecord(compute_ready_, current_stream()));
  MCPP_CUDA_CHECK(cudaStreamWaitEvent(stream_, compute_ready_, 0));
  enqueue();
  // One event per operation: several may be in flight, and the watchdog may still be polling
  // earlier ones.
  auto done = std::make_shared<CompletionEvent>();
  done->device = device_;
  MCPP_CUDA_CHECK(cudaEventCreateWithFlags(&done->event, cudaEventDisableTiming));
  MCPP_CUDA_CHECK(cudaEventRecord(done->event, stream_));
  if (watchdog_) watched.release_when([done] { return done->finished(); });
  return comm::PendingCollective([done, label = wait_label(op), keep_alive = std::move(keep_alive)] {
    const profile::Scope timed(label);
    MCPP_CUDA_CHECK(cudaStreamWaitEvent(current_stream(), done->event, 0));
  });
}

template <typename Enqueue>
void NcclCommunicator::run(const char* op, Enqueue&& enqueue) {
  // The caller holds the tensors across the call, and the compute stream waits before it returns.
  start(op, std::forward<Enqueue>(enqueue), {}).wait();
}

// The assumed bus bandwidth is what NCCL reaches on NVLink for 160-262 MB reduce-scatters with
// NVLS off: 218-298 GB/s on H200 (docs/benchmarks.md).
void NcclCommunicator::announce_overlap(double link_bytes) const {
  constexpr double kAssumedBusBandwidth = 250e9;
  core::gpu::expect_concurrent_communication(link_bytes / kAssumedBusBandwidth);
}

void NcclCommunicator::all_reduce(const Tensor& tensor, comm::ReduceOp op) { begin_all_reduce(tensor, op).wait(); }

comm::PendingCollective NcclCommunicator::all_reduce_async(const Tensor& tensor, comm::ReduceOp op) {
  comm::PendingCollective pending = begin_all_reduce(tensor, op);
  announce_overlap(2 * ring_share(size_) * double(tensor.nbytes()));
  return pending;
}

comm::PendingCollective NcclCommunicator::begin_all_reduce(const Tensor& tensor, comm::ReduceOp op) {
  check_device_tensor(tensor, "all_reduce");
  const ncclDataType_t type = reduce_type(tensor.dtype(), "all_reduce");
  if (tensor.numel() == 0) return {};
  return start(
      "all_reduce",
      [&] {
        const comm::ReduceOp runs = nccl_op(op, tensor);
        const NcclReduction reduction(runs, tensor.dtype(), type, size_, comm_);
        check_nccl(ncclAllReduce(tensor.raw_data(), tensor.raw_data(), size_t(tensor.numel()), type, reduction.op(),
                                 comm_, stream_),
                   "ncclAllReduce", comm_);
        if (runs != op) scale_average(tensor);
      },
      {tensor});
}

void NcclCommunicator::reduce_scatter(const Tensor& input, const Tensor& output, comm::ReduceOp op) {
  begin_reduce_scatter(input, output, op).wait();
}

comm::PendingCollective NcclCommunicator::reduce_scatter_async(const Tensor& input, const Tensor& output,
                                                               comm::ReduceOp op) {
  comm::PendingCollective pending = begin_reduce_scatter(input, output, op);
  announce_overlap(ring_share(size_) * double(input.nbytes()));
  return pending;
}

comm::PendingCollective NcclCommunicator::begin_reduce_scatter(const Tensor& input, const Tensor& output,
                                                               comm::ReduceOp op) {
  check_device_tensor(input, "reduce_scatter");
  check_device_tensor(output, "reduce_scatter");
  check(input.numel() == output.numel() * size_ && input.dtype() == output.dtype(),
        "reduce_scatter: input " + input.describe() + " must hold " + std::to_string(size_) + " x output " +
            output.describe());
  const ncclDataType_t type = reduce_type(input.dtype(), "reduce_scatter");
  if (output.numel() == 0) return {};
  // NCCL's in-place form: the output is this rank's part of the input. Operands NCCL cannot take
  // as they are (other overlaps; window parts off 16 bytes, see symmetric_aligned) are reduced in
  // place in an ordinary copy of the input.
  const bool in_place = input.storage() == output.storage() &&
                        output.raw_data() == bytes_of(input) + size_t(rank_) * output.nbytes();
  if ((!in_place && input.overlaps(output)) || !symmetric_aligned(input) || !symmetric_aligned(output)) {
    Tensor staged = Tensor::empty(input.shape(), input.dtype(), Device::CUDA);
    staged.copy_from(input);
    const Tensor part = staged.sub(rank_ * output.numel(), output.shape());
    reduce_scatter(staged, part, op);
    output.copy_from(part);
    return {};
  }
  return start(
      "reduce_scatter",
      [&] {
        const comm::ReduceOp runs = nccl_op(op, input);
        const NcclReduction reduction(runs, input.dtype(), type, size_, comm_);
        check_nccl(ncclReduceScatter(input.raw_data(), output.raw_data(), size_t(output.numel()), type,
                                     reduction.op(), comm_, stream_),
                   "ncclReduceScatter", comm_);
        if (runs != op) scale_average(output);
      },
      {input, output});
}

void NcclCommunicator::all_gather(const Tensor& input, const Tensor& output) {
  begin_all_gather(input, output).wait();
}

comm::PendingCollective NcclCommunicator::all_gather_async(const Tensor& input, const Tensor& output) {
  comm::PendingCollective pending = begin_all_gather(input, output);
  // Within a window the copy engines move the bytes: the GEMMs beside it keep every SM.
  if (!(in_window(input) && in_window(output))) announce_overlap(ring_share(size_) * double(output.nbytes()));
  return pending;
}

comm::PendingCollective NcclCommunicator::begin_all_gather(const Tensor& input, const Tensor& output) {
  check_device_tensor(input, "all_gather");
  check_device_tensor(output, "all_gather");
  check(output.numel() == input.numel() * size_ && input.dtype() == output.dtype(),
        "all_gather: output " + output.describe() + " must hold " + std::to_string(size_) + " x input " +
            input.describe());
  if (input.numel() == 0) return {};
  // NCCL's in-place form: the input already sits in this rank's part of the output.
  const bool in_place = input.storage() == output.storage() &&
                        input.raw_data() == bytes_of(output) + size_t(rank_) * input.nbytes();
  if (!in_place && input.overlaps(output)) {
    Tensor copy = Tensor::empty(input.shape(), input.dtype(), Device::CUDA);
    copy.copy_from(input);
    all_gather(copy, output);
    return {};
  }
  return start(
      "all_gather",
      [&] {
        check_nccl(ncclAllGather(input.raw_data(), output.raw_data(), input.nbytes(), ncclUint8, comm_, stream_),
                   "ncclAllGather", comm_);
      },
      {input, output});
}

void NcclCommunicator::broadcast(const Tensor& tensor, int root) {
  check_root(root, "broadcast");
  check_device_tensor(tensor, "broadcast");
  if (tensor.numel() == 0) return;
  run("broadcast", [&] {
    check_nccl(ncclBroadcast(tensor.raw_data(), tensor.raw_data(), tensor.nbytes(), ncclUint8, root, comm_, stream_),
               "ncclBroadcast", comm_);
  });
}

void NcclCommunicator::reduce(const Tensor& tensor, int root, comm::ReduceOp op) {
  begin_reduce(tensor, root, op).wait();
}

comm::PendingCollective NcclCommunicator::reduce_async(const Tensor& tensor, int root, comm::ReduceOp op) {
  comm::PendingCollective pending = begin_reduce(tensor, root, op);
  announce_overlap(double(tensor.nbytes()));
  return pending;
}

comm::PendingCollective NcclCommunicator::begin_reduce(const Tensor& tensor, int root, comm::ReduceOp op) {
  check_root(root, "reduce");
  check_device_tensor(tensor, "reduce");
  const ncclDataType_t type = reduce_type(tensor.dtype(), "reduce");
  if (tensor.numel() == 0) return {};
  return start(
      "reduce",
      [&] {
        // In place on the root; the other ranks' tensors are only read.
        const NcclReduction reduction(op, tensor.dtype(), type, size_, comm_);
        check_nccl(ncclReduce(tensor.raw_data(), tensor.raw_data(), size_t(tensor.numel()), type, reduction.op(),
                              root, comm_, stream_),
                   "ncclReduce", comm_);
      },
      {tensor});
}

void NcclCommunicator::send(const Tensor& tensor, int peer) {
  check(peer >= 0 && peer < size_ && peer != rank_, "send: bad peer " + std::to_string(peer));
  check_device_tensor(tensor, "send");
  run("send", [&] {
    check_nccl(ncclSend(tensor.raw_data(), tensor.nbytes(), ncclUint8, peer, comm_, stream_), "ncclSend", comm_);
  });
}

void NcclCommunicator::recv(const Tensor& tensor, int peer) {
  check(peer >= 0 && peer < size_ && peer != rank_, "recv: bad peer " + std::to_string(peer));
  check_device_tensor(tensor, "recv");
  run("recv", [&] {
    check_nccl(ncclRecv(tensor.raw_data(), tensor.nbytes(), ncclUint8, peer, comm_, stream_), "ncclRecv", comm_);
  });
}

void NcclCommunicator::send_recv(const Tensor& send, int dest, const Tensor& recv, int source) {
  check(dest >= 0 && dest < size_ && dest != rank_ && source >= 0 && source < size_ && source != rank_,
        "send_recv: bad peers " + std::to_string(dest) + " / " + std::to_string(source));
  check_device_tensor(send, "send_recv");
  check_device_tensor(recv, "send_recv");
  const comm::P2POp ops[] = {comm::P2POp::send(send, dest), comm::P2POp::recv(recv, source)};
  run_group("send_recv", ops);
}

void NcclCommunicator::exchange(std::span<const comm::P2POp> ops) {
  for (const comm::P2POp& op : ops) {
    check(op.peer >= 0 && op.peer < size_ && op.peer != rank_, "exchange: bad peer " + std::to_string(op.peer));
    check_device_tensor(op.tensor, "exchange");
  }
  if (ops.empty()) return;
  run_group("exchange", ops);
}

void NcclCommunicator::run_group(const char* op, std::span<const comm::P2POp> ops) {
  run(op, [&] {
    // One group: NCCL starts every transfer together, so crossing exchanges cannot deadlock and
    // the group cannot wait on itself; each peer's sends and receives match in issue order.
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    ncclResult_t first_error = ncclSuccess;
    const char* failed = "";
    for (const comm::P2POp& transfer : ops) {
      const bool send = transfer.kind == comm::P2POp::Kind::send;
      void* data = transfer.tensor.raw_data();
      const size_t bytes = transfer.tensor.nbytes();
      const ncclResult_t result = send ? ncclSend(data, bytes, ncclUint8, transfer.peer, comm_, stream_)
                                       : ncclRecv(data, bytes, ncclUint8, transfer.peer, comm_, stream_);
      if (first_error == ncclSuccess && result != ncclSuccess && result != ncclInProgress) {
        first_error = result;
        failed = send ? "ncclSend" : "ncclRecv";
      }
    }
    const ncclResult_t ended = ncclGroupEnd();  // always closes the group, even after an error
    check_nccl(first_error, failed, comm_);
    check_nccl(ended, "ncclGroupEnd", comm_);
  });
}

void NcclCommunicator::barrier() {
  // A one-element all-reduce that the host waits for: no rank returns before every rank entered.
  const Tensor token = Tensor::zeros({1}, DType::F32, Device::CUDA);
  all_reduce(token);
  const WatchedOperation watched(watchdog_.get(), name_, "barrier");
  MCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace mcpp::parallel
