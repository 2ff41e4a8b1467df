#include "app/batch_broadcast.h"

#include <cstdint>

#include "core/base/error.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::app {

namespace {

// Every field as a host tensor of the broadcast shape (allocated on the receiving ranks).
void broadcast_tensor(Tensor& tensor, const Shape& shape, DType dtype, int rank, MPI_Comm tp, const char* what) {
  if (rank != 0) tensor = Tensor::empty(shape, dtype);
  check(tensor.defined() && tensor.shape() == shape && tensor.dtype() == dtype && tensor.device() == Device::CPU,
        std::string("internal: micro-batch ") + what + " is not a host tensor of the broadcast shape");
  check(tensor.nbytes() <= size_t(INT32_MAX), std::string("micro-batch ") + what + " too large to broadcast");
  parallel::check_mpi(MPI_Bcast(tensor.raw_data(), static_cast<int>(tensor.nbytes()), MPI_BYTE, 0, tp),
                      "micro-batch broadcast over the tensor-parallel group");
}

}  // namespace

std::optional<model::MicroBatch> broadcast_micro_batch(std::optional<model::MicroBatch> batch, MPI_Comm tp) {
  int rank = 0, size = 1;
  MPI_Comm_rank(tp, &rank);
  MPI_Comm_size(tp, &size);
  if (size == 1) return batch;
  // Header: present, b, s, which optional fields are there, the document-offset width.
  int64_t header[6] = {0, 0, 0, 0, 0, 0};
  if (rank == 0 && batch) {
    header[0] = 1;
    header[1] = batch->tokens.dim(0);
    header[2] = batch->tokens.dim(1);
    header[3] = batch->loss_mask.defined();
    header[4] = batch->position_ids.defined();
    header[5] = batch->doc_offsets.defined() ? batch->doc_offsets.dim(1) : 0;
  }
  parallel::check_mpi(MPI_Bcast(header, 6, MPI_INT64_T, 0, tp), "micro-batch header broadcast");
  if (header[0] == 0) return std::nullopt;
  model::MicroBatch out = rank == 0 ? std::move(*batch) : model::MicroBatch{};
  const Shape shape{header[1], header[2]};
  broadcast_tensor(out.tokens, shape, DType::I64, rank, tp, "tokens");
  broadcast_tensor(out.labels, shape, DType::I64, rank, tp, "labels");
  if (header[3]) broadcast_tensor(out.loss_mask, shape, DType::F32, rank, tp, "loss mask");
  if (header[4]) broadcast_tensor(out.position_ids, shape, DType::I64, rank, tp, "position ids");
  if (header[5] > 0) broadcast_tensor(out.doc_offsets, Shape{header[1], header[5]}, DType::I64, rank, tp, "document offsets");
  return out;
}

}  // namespace mcpp::app
