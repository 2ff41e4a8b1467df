#include "data/gpt/loader.h"

#include <string>

#include "core/base/error.h"

namespace mcpp::data {

PretrainingSampler::PretrainingSampler(int64_t total_samples, const LoaderOptions& options)
    : total_(total_samples), next_start_(options.consumed_samples), options_(options) {
  check(options.micro_batch_size > 0, "--micro-batch-size must be positive");
  check(options.dp_size > 0 && options.dp_rank >= 0 && options.dp_rank < options.dp_size,
        "internal: data-parallel rank " + std::to_string(options.dp_rank) + " outside size " +
            std::to_string(options.dp_size));
  check(total_samples > 0, "the dataset has no samples to consume");
  check(options.consumed_samples >= 0 && options.consumed_samples < total_samples,
        "no samples left to consume: " + std::to_string(options.consumed_samples) +
            " consumed of " + std::to_string(total_samples) +
            " (resume point past the dataset; request more samples)");
}

std::optional<std::vector<int64_t>> PretrainingSampler::next() {
  const int64_t step = options_.micro_batch_size * options_.dp_size;
  const int64_t available = total_ - next_start_;
  if (available <= 0) return std::nullopt;
  if (available < step && options_.drop_last) return std::nullopt;
  // A last incomplete step (only without drop_last) is sliced the same way, so a rank may get a
  // short or empty slice, as Megatron's batch[start:end] does.
  const int64_t begin = next_start_ + options_.dp_rank * options_.micro_batch_size;
  const int64_t end = std::min(begin + options_.micro_batch_size, std::min(total_, next_start_ + step));
  std::vector<int64_t> indices;
  for (int64_t i = begin; i < end; ++i) indices.push_back(i);
  next_start_ += step;
  return indices;
}

MicroBatch collate(const SampleDataset& dataset, const std::vector<int64_t>& indices) {
  MicroBatch batch;
  batch.batch_size = static_cast<int64_t>(indices.size());
  batch.seq_length = dataset.seq_length();
  batch.sample_indices = indices;
  const size_t n = indices.size() * static_cast<size_t>(batch.seq_length);
  batch.tokens.reserve(n);
  batch.labels.reserve(n);
  batch.loss_mask.reserve(n);
  batch.position_ids.reserve(n);
  for (int64_t index : indices) {
    Sample sample = dataset.get(index);
    const auto tokens = sample.tokens();
    const auto labels = sample.labels();
    batch.tokens.insert(batch.tokens.end(), tokens.begin(), tokens.end());
    batch.labels.insert(batch.labels.end(), labels.begin(), labels.end());
    batch.loss_mask.insert(batch.loss_mask.end(), sample.loss_mask.begin(), sample.loss_mask.end());
    batch.position_ids.insert(batch.position_ids.end(), sample.position_ids.begin(),
                              sample.position_ids.end());
    batch.document_offsets.push_back(std::move(sample.document_offsets));
    batch.dataset_ids.push_back(sample.dataset_id);
  }
  return batch;
}

GptLoader::GptLoader(std::shared_ptr<const SampleDataset> dataset, const LoaderOptions& options)
    : dataset_(std::move(dataset)),
      sampler_(dataset_->size(), options),
      capacity_(static_cast<size_t>(std::max(1, options.prefetch_batches))) {
  reader_ = std::thread([this] { run(); });
}

GptLoader::~GptLoader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  reader_.join();
}

void GptLoader::run() {
  try {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || ready_.size() < capacity_; });
        if (stopping_) return;
      }
      auto indices = sampler_.next();  // only this thread touches the sampler
      if (!indices) break;
      MicroBatch batch = collate(*dataset_, *indices);
      {
        std::lock_guard lock(mutex_);
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  changed_.notify_all();
}

std::optional<MicroBatch> GptLoader::next() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
  if (!ready_.empty()) {
    MicroBatch batch = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    changed_.notify_all();
    return batch;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

}  // namespace mcpp::data
