#include "app/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/base/error.h"

namespace mcpp::app {

namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Protobuf wire format pieces.
void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_fixed(std::string& out, const void* data, size_t bytes) {
  out.append(static_cast<const char*>(data), bytes);  // little-endian host
}

void put_key(std::string& out, int field, int wire_type) { put_varint(out, (field << 3) | wire_type); }

void put_bytes_field(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_wall_time(std::string& out, double wall_time) {
  put_key(out, 1, 1);  // Event.wall_time: double
  put_fixed(out, &wall_time, sizeof wall_time);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) crc = kCrc32cTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

std::string encode_file_version_event(double wall_time) {
  std::string event;
  put_wall_time(event, wall_time);
  put_bytes_field(event, 3, "brain.Event:2");  // Event.file_version
  return event;
}

std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value) {
  std::string summary_value;
  put_bytes_field(summary_value, 1, tag);  // Summary.Value.tag
  put_key(summary_value, 2, 5);            // Summary.Value.simple_value: float
  put_fixed(summary_value, &value, sizeof value);
  std::string summary;
  put_bytes_field(summary, 1, summary_value);  // Summary.value
  std::string event;
  put_wall_time(event, wall_time);
  put_key(event, 2, 0);  // Event.step: int64
  put_varint(event, static_cast<uint64_t>(step));
  put_bytes_field(event, 5, summary);  // Event.summary
  return event;
}

std::string frame_record(std::string_view payload) {
  std::string out;
  const uint64_t length = payload.size();
  std::string length_bytes(reinterpret_cast<const char*>(&length), sizeof length);
  const uint32_t length_crc = masked_crc32c(length_bytes);
  const uint32_t payload_crc = masked_crc32c(payload);
  out += length_bytes;
  put_fixed(out, &length_crc, sizeof length_crc);
  out.append(payload);
  put_fixed(out, &payload_crc, sizeof payload_crc);
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  check(!ec, "--tensorboard-dir " + directory + ": cannot create the directory (" + ec.message() + ")");
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  const double start = now_seconds();
  path_ = (std::filesystem::path(directory) /
           ("events.out.tfevents." + std::to_string(static_cast<int64_t>(start)) + "." + host))
              .string();
  file_ = std::fopen(path_.c_str(), "ab");
  check(file_ != nullptr, "--tensorboard-dir: cannot write " + path_);
  write_record(encode_file_version_event(start));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(std::string_view tag, double value, int64_t step) {
  add_scalar(tag, value, step, now_seconds());
}

void TensorBoardWriter::add_scalar(std::string_view tag, double value, int64_t step, double wall_time) {
  write_record(encode_scalar_event(wall_time, step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::flush() {
  check(std::fflush(file_) == 0, "cannot write TensorBoard events to " + path_);
}

void write_iteration_scalars(TensorBoardWriter& writer, const IterationRecord& r) {
  const double now = now_seconds();
  writer.add_scalar("learning-rate", r.learning_rate, r.iteration, now);
  writer.add_scalar("batch-size", static_cast<double>(r.global_batch_size), r.iteration, now);
  if (!r.skipped) writer.add_scalar("lm loss", r.lm_loss, r.iteration, now);
  writer.add_scalar("loss-scale", r.loss_scale, r.iteration, now);
  if (r.grad_norm) writer.add_scalar("grad-norm", *r.grad_norm, r.iteration, now);
  writer.add_scalar("iteration-time", r.seconds, r.iteration, now);
}

void TensorBoardWriter::write_record(std::string_view payload) {
  const std::string record = frame_record(payload);
  check(std::fwrite(record.data(), 1, record.size(), file_) == record.size(),
        "cannot write TensorBoard events to " + path_);
}

}  // namespace mcpp::app
