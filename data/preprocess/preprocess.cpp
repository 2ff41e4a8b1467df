#include "data/preprocess/preprocess.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/base/error.h"
#include "data/indexed/indexed_dataset_builder.h"
#include "data/preprocess/document_encoder.h"
#include "data/preprocess/line_reader.h"

namespace mcpp::data {

std::string output_prefix_for_key(const std::string& output_prefix, const std::string& key) {
  return output_prefix + "_" + key + "_document";
}

namespace {

using Clock = std::chrono::steady_clock;

// Consecutive selected lines of one input file.
struct Batch {
  uint64_t number = 0;  // position in the output order
  size_t file_index = 0;
  uint64_t first_line = 0;   // 1-based line number of the first line in its file
  uint64_t line_stride = 1;  // line-number step between consecutive lines of the batch
  std::string text;          // the lines back to back, without newlines
  std::vector<size_t> ends;  // end offset of each line in `text`
  uint64_t input_bytes = 0;
};

class Pipeline {
 public:
  Pipeline(const PreprocessOptions& options, const Tokenizer& tokenizer)
      : options_(options), tokenizer_(tokenizer),
        max_in_flight_(2 * static_cast<uint64_t>(options.workers) + 2) {}

  ~Pipeline() { stop(); }

  PreprocessSummary run() {
    const DType dtype = dtype_for_vocab(tokenizer_.vocab_size());
    for (const std::string& key : options_.json_keys) {
      summary_.output_prefixes.push_back(output_prefix_for_key(options_.output_prefix, key));
      builders_.push_back(
          std::make_unique<IndexedDatasetBuilder>(summary_.output_prefixes.back(), dtype));
    }
    start_ = Clock::now();
    threads_.emplace_back([this] { guarded([this] { produce(); }); });
    for (int w = 0; w < options_.workers; ++w)
      threads_.emplace_back([this] { guarded([this] { work(); }); });

    write_in_order();
    stop();
    for (auto& builder : builders_) {
      builder->finalize();
      summary_.tokens += builder->num_tokens();
    }
    summary_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return summary_;
  }

 private:
  // Runs a thread body; the first exception stops the whole pipeline and is rethrown by run().
  void guarded(const std::function<void()>& body) {
    try {
      body();
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!failure_) failure_ = std::current_exception();
      stopping_ = true;
      changed_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  // Reader thread: splits the input into batches, in output order.
  void produce() {
    const uint64_t partitions = static_cast<uint64_t>(options_.partitions);
    const bool round_robin = partitions > 1 && !options_.keep_sequential_samples;
    const uint64_t passes = round_robin ? partitions : 1;
    uint64_t number = 0;
    for (uint64_t pass = 0; pass < passes; ++pass) {
      uint64_t global_line = 0;  // Megatron's round-robin index runs on across files
      for (size_t f = 0; f < options_.inputs.size(); ++f) {
        LineReader reader(options_.inputs[f]);
        Batch batch;
        std::string_view line;
        while (reader.next(line)) {
          const bool selected = !round_robin || global_line % partitions == pass;
          ++global_line;
          if (!selected) continue;
          if (batch.ends.empty()) {
            batch.file_index = f;
            batch.first_line = reader.line_number();
            batch.line_stride = round_robin ? partitions : 1;
          }
          batch.text.append(line);
          batch.ends.push_back(batch.text.size());
          batch.input_bytes += line.size() + 1;
          if (batch.text.size() >= options_.batch_bytes) {
            if (!push(std::move(batch), number++)) return;
            batch = Batch();
          }
        }
        if (!batch.ends.empty() && !push(std::move(batch), number++)) return;
      }
    }
    std::lock_guard lock(mutex_);
    total_batches_ = number;
    producer_done_ = true;
    changed_.notify_all();
  }

  // Waits for room (bounded memory), then queues the batch; false when stopping.
  bool push(Batch batch, uint64_t number) {
    batch.number = number;
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopping_ || number < next_to_write_ + max_in_flight_; });
    if (stopping_) return false;
    queue_.push_back(std::move(batch));
    changed_.notify_all();
    return true;
  }

  // Worker thread: encodes batches.
  void work() {
    DocumentEncoder encoder(tokenizer_, options_.json_keys, options_.append_eod);
    while (true) {
      Batch batch;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || !queue_.empty() || producer_done_; });
        if (stopping_ || queue_.empty()) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
      }
      EncodedBatch out;
      out.keys.resize(options_.json_keys.size());
      out.input_bytes = batch.input_bytes;
      size_t begin = 0;
      for (size_t i = 0; i < batch.ends.size(); ++i) {
        std::string_view line(batch.text.data() + begin, batch.ends[i] - begin);
        begin = batch.ends[i];
        try {
          encoder.encode(line, out);
        } catch (const Error& e) {
          std::string message = options_.inputs[batch.file_index] + ":" +
                                std::to_string(batch.first_line + i * batch.line_stride) + ": " +
                                e.what();
          if (!options_.skip_invalid) {
            out.error = std::move(message);
            break;
          }
          if (out.skipped_lines++ == 0) out.first_skip_message = std::move(message);
        }
      }
      std::lock_guard lock(mutex_);
      done_.emplace(batch.number, std::move(out));
      changed_.notify_all();
    }
  }

  // The calling thread: hands batches to the builders strictly in input order.
  void write_in_order() {
    while (true) {
      EncodedBatch batch;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] {
          return failure_ || done_.count(next_to_write_) ||
                 (producer_done_ && next_to_write_ == total_batches_);
        });
        if (failure_) std::rethrow_exception(failure_);
        auto it = done_.find(next_to_write_);
        if (it == done_.end()) return;  // everything written
        batch = std::move(it->second);
        done_.erase(it);
      }
      if (!batch.error.empty()) throw Error(batch.error);
      write(batch);
      std::lock_guard lock(mutex_);
      ++next_to_write_;
      changed_.notify_all();
    }
  }

  void write(const EncodedBatch& batch) {
    for (size_t k = 0; k < builders_.size() && batch.documents > 0; ++k) {
      const EncodedKey& key = batch.keys[k];
      size_t token = 0, sequence = 0;
      for (uint32_t sequences : key.sequences_per_document) {
        size_t tokens = 0;
        for (uint32_t s = 0; s < sequences; ++s)
          tokens += static_cast<size_t>(key.sequence_lengths[sequence + s]);
        builders_[k]->add_document(
            std::span<const int32_t>(key.tokens).subspan(token, tokens),
            std::span<const int32_t>(key.sequence_lengths).subspan(sequence, sequences));
        token += tokens;
        sequence += sequences;
      }
    }
    const uint64_t before = summary_.documents;
    summary_.documents += batch.documents;
    summary_.input_bytes += batch.input_bytes;
    if (batch.skipped_lines && summary_.skipped_lines == 0)
      summary_.first_skip_message = batch.first_skip_message;
    summary_.skipped_lines += batch.skipped_lines;
    // Megatron prints a line each time the count reaches a multiple of --log-interval.
    const uint64_t interval = static_cast<uint64_t>(options_.log_interval);
    if (interval == 0) return;
    const double elapsed =
        std::max(1e-9, std::chrono::duration<double>(Clock::now() - start_).count());
    for (uint64_t count = (before / interval + 1) * interval; count <= summary_.documents;
         count += interval) {
      std::fprintf(stderr, "Processed %llu documents (%.1f docs/s, %.2f MB/s).\n",
                   static_cast<unsigned long long>(count), count / elapsed,
                   summary_.input_bytes / elapsed / 1024 / 1024);
    }
  }

  const PreprocessOptions& options_;
  const Tokenizer& tokenizer_;
  const uint64_t max_in_flight_;
  std::vector<std::unique_ptr<IndexedDatasetBuilder>> builders_;
  PreprocessSummary summary_;
  Clock::time_point start_;
  std::vector<std::thread> threads_;

  std::mutex mutex_;
  std::condition_variable changed_;  // any state change below
  std::deque<Batch> queue_;
  std::map<uint64_t, EncodedBatch> done_;
  uint64_t next_to_write_ = 0;
  uint64_t total_batches_ = 0;
  bool producer_done_ = false;
  bool stopping_ = false;
  std::exception_ptr failure_;
};

}  // namespace

PreprocessSummary preprocess(const PreprocessOptions& options, const Tokenizer& tokenizer) {
  check(!options.inputs.empty(), "--input: no input files");
  check(options.workers >= 1, "--workers must be at least 1");
  check(options.partitions >= 1, "--partitions must be at least 1");
  check(!options.json_keys.empty(), "--json-keys: give at least one key");
  Pipeline pipeline(options, tokenizer);
  return pipeline.run();
}

}  // namespace mcpp::data
