#pragma once
// Micro-batches for one data-parallel rank, exactly as Megatron's MegatronPretrainingSampler
// hands out sample indices: from `consumed_samples` on, every step of micro_batch_size * dp_size
// consecutive indices gives rank r the slice [r * mbs, (r + 1) * mbs). Samples are read on a
// background thread a few micro-batches ahead.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/gpt/sample_dataset.h"

namespace mcpp::data {

struct LoaderOptions {
  int64_t micro_batch_size = 1;
  int64_t dp_rank = 0;  // data-parallel rank (excluding TP/CP/PP)
  int64_t dp_size = 1;
  int64_t consumed_samples = 0;
  bool drop_last = true;    // Megatron drops a last incomplete global step (pretraining sampler)
  int prefetch_batches = 4;  // how far the reader thread runs ahead
};

// The sample indices of each micro-batch of one rank, in order (no data is read).
class PretrainingSampler {
 public:
  // Throws mcpp::Error on invalid sizes or when nothing is left after consumed_samples.
  PretrainingSampler(int64_t total_samples, const LoaderOptions& options);
  // The next micro-batch's global sample indices, nullopt when the dataset is exhausted.
  std::optional<std::vector<int64_t>> next();

 private:
  int64_t total_;
  int64_t next_start_;  // first global index of the next step
  LoaderOptions options_;
};

struct MicroBatch {
  int64_t batch_size = 0;
  int64_t seq_length = 0;
  std::vector<int64_t> sample_indices;  // global indices into the dataset
  std::vector<int32_t> tokens;          // [batch, L], row-major
  std::vector<int32_t> labels;          // [batch, L]
  std::vector<float> loss_mask;         // [batch, L]
  std::vector<int32_t> position_ids;    // [batch, L]
  // Per sample, with --reset-attention-mask: document starts within the sample, then L.
  std::vector<std::vector<int32_t>> document_offsets;
  std::vector<int16_t> dataset_ids;  // blend component per sample
};

// Assembles the samples of `indices` into one micro-batch.
MicroBatch collate(const SampleDataset& dataset, const std::vector<int64_t>& indices);

class GptLoader {
 public:
  GptLoader(std::shared_ptr<const SampleDataset> dataset, const LoaderOptions& options);
  ~GptLoader();
  GptLoader(const GptLoader&) = delete;
  GptLoader& operator=(const GptLoader&) = delete;

  // The next micro-batch of this rank; nullopt at the end. Rethrows a reader error.
  std::optional<MicroBatch> next();

 private:
  void run();

  std::shared_ptr<const SampleDataset> dataset_;
  PretrainingSampler sampler_;
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<MicroBatch> ready_;
  bool finished_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread reader_;
};

}  // namespace mcpp::data
