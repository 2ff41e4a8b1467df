// dtype conversions, Tensor views and storage.
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/base/dtype.h"
#include "core/base/error.h"
#include "core/base/tensor.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;

TEST_CASE("bf16 conversion rounds to nearest even") {
  CHECK(float_to_bf16(1.0f).bits == 0x3f80);
  CHECK(bf16_to_float(bf16{0x3f80}) == 1.0f);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
  CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8)).bits == 0x3f80);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  CHECK(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)).bits == 0x3f82);
  // Just above halfway rounds up.
  CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)).bits == 0x3f81);
  CHECK(float_to_bf16(-2.0f).bits == 0xc000);
  CHECK(std::isinf(bf16_to_float(float_to_bf16(std::numeric_limits<float>::infinity()))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // The largest finite float rounds to bf16 infinity, as round-to-nearest-even requires.
  CHECK(std::isinf(bf16_to_float(float_to_bf16(std::numeric_limits<float>::max()))));
  // Every bf16 value round-trips.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = bf16_to_float(bf16{uint16_t(bits)});
    if (std::isnan(value)) continue;
    REQUIRE(float_to_bf16(value).bits == bits);
  }
}

TEST_CASE("fp16 conversion rounds to nearest even, with subnormals") {
  CHECK(float_to_f16(1.0f).bits == 0x3c00);
  CHECK(float_to_f16(65504.0f).bits == 0x7bff);
  CHECK(float_to_f16(65520.0f).bits == 0x7c00);  // halfway to the next power: overflows
  CHECK(float_to_f16(65519.0f).bits == 0x7bff);
  CHECK(float_to_f16(std::ldexp(1.0f, -24)).bits == 0x0001);   // smallest subnormal
  CHECK(float_to_f16(std::ldexp(1.0f, -25)).bits == 0x0000);   // halfway to 0: ties to even
  CHECK(float_to_f16(std::ldexp(3.0f, -26)).bits == 0x0001);   // 0.75 ulp rounds up
  CHECK(float_to_f16(std::ldexp(3.0f, -25)).bits == 0x0002);   // 1.5 ulp: ties to even (2)
  CHECK(float_to_f16(1.0f + std::ldexp(1.0f, -11)).bits == 0x3c00);      // tie to even
  CHECK(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3c02);  // tie to even
  CHECK(float_to_f16(-0.0f).bits == 0x8000);
  CHECK(std::isnan(f16_to_float(float_to_f16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = f16_to_float(f16{uint16_t(bits)});
    if (std::isnan(value)) continue;
    REQUIRE(float_to_f16(value).bits == bits);
  }
  // Against the exact value: the conversion picks the nearer neighbour for random floats.
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(-70000.0f, 70000.0f);
  for (int i = 0; i < 20000; ++i) {
    float value = dist(gen) * std::ldexp(1.0f, -int(gen() % 30));
    float rounded = f16_to_float(float_to_f16(value));
    if (std::isinf(rounded)) continue;
    double error = std::fabs(double(rounded) - value);
    double ulp = std::max(std::ldexp(1.0, -24), std::ldexp(1.0, std::ilogb(std::fabs(rounded) + 1e-30) - 10));
    REQUIRE(error <= 0.5 * ulp + 1e-30);
  }
}

TEST_CASE("dtype sizes and names") {
  CHECK(dtype_size(DType::F32) == 4);
  CHECK(dtype_size(DType::BF16) == 2);
  CHECK(dtype_size(DType::F8E4M3) == 1);
  CHECK(dtype_size(DType::I64) == 8);
  CHECK(dtype_from_name("bf16") == DType::BF16);
  CHECK(std::string(dtype_name(DType::F8E5M2)) == "f8e5m2");
  CHECK_THROWS_AS(dtype_from_name("float32"), Error);
}

TEST_CASE("Tensor views share storage") {
  Tensor t = Tensor::zeros({4, 3, 2});
  CHECK(t.numel() == 24);
  CHECK(t.nbytes() == 96);
  CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
  float* data = t.data<float>();
  for (int i = 0; i < 24; ++i) data[i] = float(i);

  Tensor rows = t.slice(1, 3);
  CHECK(rows.shape() == Shape{2, 3, 2});
  CHECK(rows.data<float>()[0] == 6.0f);
  CHECK(rows.offset() == 6);
  rows.data<float>()[0] = 100.0f;
  CHECK(data[6] == 100.0f);

  Tensor flat = t.view({24});
  CHECK(flat.data<float>()[23] == 23.0f);
  Tensor part = t.sub(10, {2, 2});
  CHECK(part.data<float>()[3] == 13.0f);
  Tensor part_rows = part.slice(1, 2);
  CHECK(part_rows.data<float>()[0] == 12.0f);
  CHECK(part.overlaps(t));
  CHECK_FALSE(t.sub(0, {5}).overlaps(t.sub(5, {5})));
  CHECK(t.dim(-1) == 2);

  CHECK_THROWS_AS(t.view({5, 5}), Error);
  CHECK_THROWS_AS(t.slice(3, 5), Error);
  CHECK_THROWS_AS(t.sub(20, {5}), Error);
  CHECK_THROWS_AS(t.data<int64_t>(), Error);
  CHECK_THROWS_AS(Tensor().data<float>(), Error);
  CHECK_THROWS_AS(Tensor::empty({1, 1, 1, 1, 1, 1}), Error);
#ifndef MCPP_HAVE_CUDA
  CHECK_THROWS_AS(Tensor::empty({2}, DType::F32, Device::CUDA), Error);  // CPU-only build
#endif
}

TEST_CASE("adopted storage goes to its release function once, when the last tensor over it goes") {
  alignas(64) static float memory[16];
  int released = 0;
  void* released_data = nullptr;
  {
    auto storage = Storage::adopt(memory, sizeof memory, Device::CPU, [&](void* data) {
      ++released;
      released_data = data;
    });
    const Tensor whole = Tensor::over(storage, {16}, DType::F32);
    CHECK(whole.raw_data() == memory);
    Tensor view = whole.sub(4, {8});
    storage.reset();
    view.fill(2.0);
    CHECK(memory[4] == 2.0f);
    CHECK(memory[3] != 2.0f);
    CHECK_THROWS_WITH(Tensor::over(whole.storage(), {17}, DType::F32),
                      "internal: a tensor of [17] f32 does not fit its storage");
    CHECK(released == 0);
  }
  CHECK(released == 1);
  CHECK(released_data == memory);
}

TEST_CASE("Tensor fill and copy_from convert between float dtypes") {
  Tensor src = Tensor::empty({5});
  float values[] = {1.0f, -2.5f, 3.14159f, 1e-3f, 65504.0f};
  for (int i = 0; i < 5; ++i) src.data<float>()[i] = values[i];
  Tensor half = Tensor::empty({5}, DType::BF16);
  half.copy_from(src);
  for (int i = 0; i < 5; ++i) CHECK(half.data<bf16>()[i].bits == float_to_bf16(values[i]).bits);
  Tensor back = Tensor::empty({5});
  back.copy_from(half);
  CHECK(back.data<float>()[2] == bf16_to_float(float_to_bf16(3.14159f)));
  Tensor f16s = Tensor::empty({5}, DType::F16);
  f16s.copy_from(src);
  CHECK(f16s.data<f16>()[4].bits == 0x7bff);

  Tensor ints = Tensor::empty({3}, DType::I64);
  ints.fill(7);
  CHECK(ints.data<int64_t>()[2] == 7);
  CHECK_THROWS_AS(ints.copy_from(src.slice(0, 3)), Error);
  CHECK_THROWS_AS(back.copy_from(Tensor::empty({4})), Error);
  Tensor same = Tensor::empty({1, 5});
  same.copy_from(src);  // shapes may differ, numel may not
  CHECK(same.data<float>()[1] == -2.5f);
}

TEST_CASE("Tensor::to returns the tensor itself on its own device, and undefined stays undefined") {
  const mcpp::Tensor t = mcpp::Tensor::zeros({3});
  const mcpp::Tensor same = t.to(mcpp::Device::CPU);
  CHECK(same.storage() == t.storage());
  CHECK(same.shape() == t.shape());
  CHECK_FALSE(mcpp::Tensor().to(mcpp::Device::CPU).defined());
}
