// Under mpirun only tensor-parallel rank 0 reads data; broadcast_micro_batch hands every
// micro-batch (and the end of the data) to the other ranks of its group, at 3 ranks.
#include <catch2/catch.hpp>

#include <cstring>
#include <optional>

#include "app/batch_broadcast.h"
#include "test/common/mpi_test_util.h"

using namespace mcpp;
using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::run_on_ranks;

namespace {

// A micro-batch whose every element depends on its field, row, column and `seed`.
model::MicroBatch numbered_batch(int64_t b, int64_t s, int64_t doc_width, bool with_optional, int seed) {
  model::MicroBatch batch;
  batch.tokens = Tensor::empty({b, s}, DType::I64);
  batch.labels = Tensor::empty({b, s}, DType::I64);
  for (int64_t i = 0; i < b * s; ++i) {
    batch.tokens.data<int64_t>()[i] = seed * 1000 + i;
    batch.labels.data<int64_t>()[i] = seed * 1000 + i + 1;
  }
  if (with_optional) {
    batch.loss_mask = Tensor::empty({b, s});
    batch.position_ids = Tensor::empty({b, s}, DType::I64);
    for (int64_t i = 0; i < b * s; ++i) {
      batch.loss_mask.data<float>()[i] = float((i + seed) % 2);
      batch.position_ids.data<int64_t>()[i] = i % s;
    }
    batch.doc_offsets = Tensor::empty({b, doc_width}, DType::I64);
    for (int64_t i = 0; i < b * doc_width; ++i) batch.doc_offsets.data<int64_t>()[i] = seed + i;
  }
  return batch;
}

bool same(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("rank body: micro-batch broadcast", "[.][rank-batch-broadcast]") {
  const int rank = mpi().rank();
  for (bool with_optional : {true, false}) {
    INFO("optional fields " << with_optional << " on rank " << rank);
    const model::MicroBatch expected = numbered_batch(2, 5, 3, with_optional, 7);
    // Only rank 0 has the batch; the others pass garbage that must be ignored.
    std::optional<model::MicroBatch> mine =
        rank == 0 ? std::optional(numbered_batch(2, 5, 3, with_optional, 7)) : std::optional(numbered_batch(1, 1, 1, true, 99));
    const std::optional<model::MicroBatch> got = app::broadcast_micro_batch(std::move(mine), MPI_COMM_WORLD);
    REQUIRE(got.has_value());
    CHECK(same(got->tokens, expected.tokens));
    CHECK(same(got->labels, expected.labels));
    CHECK(same(got->loss_mask, expected.loss_mask));
    CHECK(same(got->position_ids, expected.position_ids));
    CHECK(same(got->doc_offsets, expected.doc_offsets));
  }
  // The end of the data reaches every rank, whatever the others hold.
  std::optional<model::MicroBatch> end = rank == 0 ? std::nullopt : std::optional(numbered_batch(1, 1, 1, false, 1));
  CHECK_FALSE(app::broadcast_micro_batch(std::move(end), MPI_COMM_WORLD).has_value());
}

TEST_CASE("tensor-parallel rank 0's micro-batches reach the other ranks of its group") {
  CHECK(run_on_ranks(3, "[rank-batch-broadcast]"));
}
