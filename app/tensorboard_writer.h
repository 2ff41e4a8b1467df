#pragma once
// TensorBoard event files written by hand, so no TensorFlow/protobuf is needed: a TFRecord
// stream (length, masked CRC32C of the length, payload, masked CRC32C of the payload) of Event
// protobufs {wall_time, step, file_version | summary{value{tag, simple_value}}} encoded directly.
// File name: events.out.tfevents.<unix seconds>.<hostname>. Megatron's tags: "lm loss",
// "learning-rate", "grad-norm", "loss-scale", "iteration-time", "batch-size".
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "app/log_line.h"

namespace mcpp::app {

// CRC32C (Castagnoli) and TFRecord's masking of it.
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

// The serialized Event messages (exposed for tests).
std::string encode_file_version_event(double wall_time);
std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value);
// One TFRecord frame around `payload`.
std::string frame_record(std::string_view payload);

class TensorBoardWriter {
 public:
  // Creates `directory` if needed and a new event file inside it.
  explicit TensorBoardWriter(const std::string& directory);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void add_scalar(std::string_view tag, double value, int64_t step);
  void add_scalar(std::string_view tag, double value, int64_t step, double wall_time);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(std::string_view payload);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// Megatron's per-iteration scalars at step = record.iteration: learning-rate, batch-size, lm loss
// (not on skipped steps), loss-scale, grad-norm (when there is one) and iteration-time (seconds).
void write_iteration_scalars(TensorBoardWriter& writer, const IterationRecord& record);

}  // namespace mcpp::app
