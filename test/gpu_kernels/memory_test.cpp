// Device tensors: copies, fill, zeros, dtype conversion on the device, and the caching allocator.
#include <cstring>

#include "core/base/cuda/device_allocator.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;

TEST_CASE("host to device to host copies are bitwise for every dtype") {
  for (DType dtype : {DType::F32, DType::BF16, DType::F16, DType::I64, DType::U8}) {
    Tensor host = Tensor::empty(Shape{37, 3}, dtype);
    auto* bytes = static_cast<unsigned char*>(host.raw_data());
    for (size_t i = 0; i < host.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(i * 131 + 7);
    Tensor device = Tensor::empty(host.shape(), dtype, Device::CUDA);
    REQUIRE(device.device() == Device::CUDA);
    device.copy_from(host);
    Tensor device2 = Tensor::empty(host.shape(), dtype, Device::CUDA);
    device2.copy_from(device);  // device -> device
    Tensor back = Tensor::empty(host.shape(), dtype);
    back.copy_from(device2);
    REQUIRE(std::memcmp(back.raw_data(), host.raw_data(), host.nbytes()) == 0);
  }
}

TEST_CASE("fill and zeros and views on the device") {
  Tensor t = Tensor::empty(Shape{10, 4}, DType::BF16, Device::CUDA);
  t.fill(1.5);
  t.slice(2, 4).fill(-3.0);
  Tensor host = to_host_f32(t);
  for (int64_t i = 0; i < 40; ++i) {
    float expected = (i >= 8 && i < 16) ? -3.0f : 1.5f;
    REQUIRE(host.data<float>()[i] == expected);
  }
  Tensor z = Tensor::zeros(Shape{1000}, DType::F32, Device::CUDA);
  Tensor zh = to_host_f32(z);
  for (int64_t i = 0; i < 1000; ++i) REQUIRE(zh.data<float>()[i] == 0.0f);
  Tensor ids = Tensor::empty(Shape{5}, DType::I64, Device::CUDA);
  ids.fill(42);
  Tensor ids_host = Tensor::empty(Shape{5}, DType::I64);
  ids_host.copy_from(ids);
  for (int64_t i = 0; i < 5; ++i) REQUIRE(ids_host.data<int64_t>()[i] == 42);
}

TEST_CASE("dtype conversion on the device rounds exactly as on the host") {
  for (DType half : {DType::BF16, DType::F16}) {
    INFO(dtype_label(half));
    Tensor host = host_random(Shape{4097}, 11, DType::F32, -300.0f, 300.0f);
    float* values = host.data<float>();
    values[0] = std::numeric_limits<float>::quiet_NaN();
    // A tie that rounds to even, an fp16 overflow (to inf) and an fp16 subnormal.
    values[1] = half == DType::BF16 ? 1.0f + 1.0f / 256.0f : 1.0f + 1.0f / 2048.0f;
    values[2] = 1e5f;
    values[3] = -3e-6f;
    Tensor expected = Tensor::empty(host.shape(), half);
    expected.copy_from(host);
    Tensor device = to_device(host, DType::F32);
    Tensor converted = Tensor::empty(host.shape(), half, Device::CUDA);
    converted.copy_from(device);  // f32 -> half on the device
    Tensor back = Tensor::empty(host.shape(), half);
    back.copy_from(converted);
    REQUIRE(std::memcmp(back.raw_data(), expected.raw_data(), expected.nbytes()) == 0);
    // Host f32 -> device half directly (staged conversion) gives the same bits.
    Tensor direct = Tensor::empty(host.shape(), half, Device::CUDA);
    direct.copy_from(host);
    back.copy_from(direct);
    REQUIRE(std::memcmp(back.raw_data(), expected.raw_data(), expected.nbytes()) == 0);
  }
}

TEST_CASE("the caching allocator reuses freed blocks and tracks peaks") {
  REQUIRE(device_size_class(1) == 512);
  REQUIRE(device_size_class(512) == 512);
  REQUIRE(device_size_class(513) == 1024);
  REQUIRE(device_size_class((size_t(1) << 20) + 1) == (size_t(1) << 20) + (size_t(1) << 18));
  REQUIRE(device_size_class(size_t(3) << 20) == size_t(3) << 20);
  reset_device_peak_stats();
  DeviceMemoryStats before = device_memory_stats();
  size_t bytes = size_t(3) << 20;
  {
    Tensor a = Tensor::empty(Shape{int64_t(bytes / 4)}, DType::F32, Device::CUDA);
    DeviceMemoryStats during = device_memory_stats();
    REQUIRE(during.allocated_bytes == before.allocated_bytes + bytes);
    REQUIRE(during.peak_allocated_bytes >= during.allocated_bytes);
  }
  DeviceMemoryStats after_free = device_memory_stats();
  REQUIRE(after_free.allocated_bytes == before.allocated_bytes);
  REQUIRE(after_free.peak_allocated_bytes >= before.allocated_bytes + bytes);
  {
    Tensor b = Tensor::empty(Shape{int64_t(bytes / 4)}, DType::F32, Device::CUDA);
    REQUIRE(device_memory_stats().cuda_malloc_calls == after_free.cuda_malloc_calls);
  }
  release_cached_device_memory();
  REQUIRE(device_memory_stats().reserved_bytes < after_free.reserved_bytes);
}
