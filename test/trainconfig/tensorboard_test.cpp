#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "app/tensorboard_writer.h"
#include "test/common/test_support.h"

namespace {

// A reader written from the TFRecord/Event specification, independent of the writer's encoders.
struct Scalar {
  double wall_time = 0.0;
  int64_t step = 0;
  std::string tag;
  float value = 0.0f;
  std::string file_version;
};

uint64_t read_varint(const std::string& s, size_t& pos) {
  uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    REQUIRE(pos < s.size());
    const auto byte = static_cast<unsigned char>(s[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return value;
  }
}

// Calls fn(field, wire_type, pos, length) for each field; length-delimited fields give their span.
template <typename Fn>
void for_each_field(const std::string& message, Fn&& fn) {
  size_t pos = 0;
  while (pos < message.size()) {
    const uint64_t key = read_varint(message, pos);
    const int field = static_cast<int>(key >> 3);
    const int wire = static_cast<int>(key & 7);
    size_t length = 0;
    if (wire == 0) {
      const size_t start = pos;
      read_varint(message, pos);
      length = pos - start;
      pos = start;
    } else if (wire == 1) {
      length = 8;
    } else if (wire == 5) {
      length = 4;
    } else {
      REQUIRE(wire == 2);
      length = read_varint(message, pos);
    }
    REQUIRE(pos + length <= message.size());
    fn(field, wire, message.substr(pos, length));
    pos += length;
  }
}

Scalar decode_event(const std::string& event) {
  Scalar out;
  for_each_field(event, [&](int field, int wire, const std::string& bytes) {
    if (field == 1 && wire == 1) std::memcpy(&out.wall_time, bytes.data(), 8);
    if (field == 2 && wire == 0) {
      size_t p = 0;
      out.step = static_cast<int64_t>(read_varint(bytes, p));
    }
    if (field == 3 && wire == 2) out.file_version = bytes;
    if (field == 5 && wire == 2) {
      for_each_field(bytes, [&](int f, int, const std::string& value_message) {
        REQUIRE(f == 1);
        for_each_field(value_message, [&](int vf, int vw, const std::string& vb) {
          if (vf == 1) out.tag = vb;
          if (vf == 2 && vw == 5) std::memcpy(&out.value, vb.data(), 4);
        });
      });
    }
  });
  return out;
}

uint32_t le32(const std::string& s, size_t pos) {
  uint32_t v;
  std::memcpy(&v, s.data() + pos, 4);
  return v;
}

std::vector<Scalar> read_events(const std::filesystem::path& path) {
  const std::string data = mcpp::test::read_file(path);
  std::vector<Scalar> out;
  size_t pos = 0;
  while (pos < data.size()) {
    REQUIRE(pos + 12 <= data.size());
    uint64_t length;
    std::memcpy(&length, data.data() + pos, 8);
    CHECK(le32(data, pos + 8) == mcpp::app::masked_crc32c(data.substr(pos, 8)));
    REQUIRE(pos + 12 + length + 4 <= data.size());
    const std::string payload = data.substr(pos + 12, length);
    CHECK(le32(data, pos + 12 + length) == mcpp::app::masked_crc32c(payload));
    out.push_back(decode_event(payload));
    pos += 12 + length + 4;
  }
  return out;
}

}  // namespace

TEST_CASE("per-iteration scalars use Megatron's tags") {
  const auto dir = mcpp::test::scratch_dir("trainconfig-tb-iter");
  std::string path;
  {
    mcpp::app::TensorBoardWriter writer(dir.string());
    path = writer.path();
    mcpp::app::IterationRecord r;
    r.iteration = 12;
    r.learning_rate = 2e-4;
    r.global_batch_size = 64;
    r.lm_loss = 6.5;
    r.loss_scale = 1.0;
    r.grad_norm = 0.75;
    r.seconds = 0.5;
    write_iteration_scalars(writer, r);
    r.iteration = 13;
    r.skipped = true;
    r.grad_norm.reset();
    write_iteration_scalars(writer, r);
  }
  const auto events = read_events(path);
  std::vector<std::string> tags;
  for (size_t i = 1; i < events.size(); ++i) tags.push_back(events[i].tag + "@" + std::to_string(events[i].step));
  CHECK(tags == std::vector<std::string>{"learning-rate@12", "batch-size@12", "lm loss@12", "loss-scale@12",
                                         "grad-norm@12", "iteration-time@12", "learning-rate@13", "batch-size@13",
                                         "loss-scale@13", "iteration-time@13"});
  CHECK(events[3].value == 6.5f);
}

TEST_CASE("CRC32C matches the standard check values") {
  CHECK(mcpp::app::crc32c("123456789") == 0xE3069283u);
  CHECK(mcpp::app::crc32c("") == 0u);
  // 32 zero bytes (RFC 3720 B.4).
  CHECK(mcpp::app::crc32c(std::string(32, '\0')) == 0x8A9136AAu);
}

TEST_CASE("TensorBoard events round trip with checked CRCs") {
  const auto dir = mcpp::test::scratch_dir("trainconfig-tb") / "tb";
  std::string path;
  {
    mcpp::app::TensorBoardWriter writer(dir.string());
    path = writer.path();
    writer.add_scalar("lm loss", 10.93341, 1, 1700000000.5);
    writer.add_scalar("learning-rate", 1.5e-4, 1, 1700000000.5);
    writer.add_scalar("grad-norm", 3.25, 300, 1700000001.0);
    writer.add_scalar("loss-scale", 65536.0, 300);
    writer.add_scalar("iteration-time", 0.125, 300);
    writer.add_scalar("batch-size", 32, 300);
    writer.flush();
  }
  CHECK(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0) == 0);
  const auto events = read_events(path);
  REQUIRE(events.size() == 7);
  CHECK(events[0].file_version == "brain.Event:2");
  CHECK(events[1].tag == "lm loss");
  CHECK(events[1].value == 10.93341f);
  CHECK(events[1].step == 1);
  CHECK(events[1].wall_time == 1700000000.5);
  CHECK(events[2].tag == "learning-rate");
  CHECK(events[2].value == 1.5e-4f);
  CHECK(events[3].tag == "grad-norm");
  CHECK(events[3].step == 300);
  CHECK(events[4].tag == "loss-scale");
  CHECK(events[4].value == 65536.0f);
  CHECK(events[5].tag == "iteration-time");
  CHECK(events[6].tag == "batch-size");
  CHECK(events[6].value == 32.0f);
  CHECK(events[6].wall_time > 1.7e9);
}
