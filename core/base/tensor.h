#pragma once
// Tensor: a typed, shaped, row-major contiguous window into shared storage.
//
// A Tensor is a cheap handle (copying it shares the storage). Views — `view`, `slice`,
// `sub` — alias the same bytes, which is how parameters and gradients live as views inside one
// contiguous buffer per (dtype, expert/non-expert) group. Ops take tensors by const reference
// and write their outputs through the handle: an output tensor is allocated by the caller.
//
// Activations use Megatron's sequence-first layout [s, b, h] (dim 0 = sequence), so sequence
// and context parallelism split dim 0 and `slice` gives a shard without copying.
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>

#include "core/base/dtype.h"
#include "core/base/error.h"

namespace mcpp {

enum class Device : uint8_t { CPU, CUDA };

const char* device_name(Device device);

// Up to 5 dimensions, stored inline.
class Shape {
 public:
  static constexpr int kMaxRank = 5;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);

  int rank() const { return rank_; }
  // Negative indices count from the end (-1 = last dimension).
  int64_t operator[](int index) const;
  int64_t& operator[](int index);
  int64_t numel() const;
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
  std::string to_string() const;  // "[2, 3, 4]"

  // Appends one dimension (throws beyond kMaxRank).
  void push_back(int64_t dim);

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// Raw bytes on one device. CPU storage is 64-byte aligned (cache lines, AVX-512 loads).
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  // Memory allocated elsewhere (e.g. by a communication library), handed to `release` when the
  // last tensor over it goes.
  static std::shared_ptr<Storage> adopt(void* data, size_t nbytes, Device device, std::function<void(void*)> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  Storage(void* data, size_t nbytes, Device device) : data_(data), nbytes_(nbytes), device_(device) {}
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_ = Device::CPU;
  std::function<void(void*)> release_;  // set for adopted memory
};

class Tensor {
 public:
  // An undefined tensor (no storage): used for optional arguments such as a missing bias.
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  // A tensor over the start of `storage` (which must hold shape.numel() elements).
  static Tensor over(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t dim(int index) const { return shape_[index]; }
  DType dtype() const { return dtype_; }
  Device device() const;
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  // Element offset of this view inside its storage.
  int64_t offset() const { return offset_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Typed pointer to element 0; throws when T does not match dtype() (or when undefined).
  template <typename T>
  T* data() const {
    check_access(dtype_of<T>::value);
    return reinterpret_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // Same elements, another shape with the same numel.
  Tensor view(const Shape& new_shape) const;
  // Rows [begin, end) along dim 0, sharing storage.
  Tensor slice(int64_t begin, int64_t end) const;
  // `shape.numel()` elements starting at element `element_offset` of this tensor, viewed with
  // `shape` (a parameter inside a flat buffer, a bucket of a gradient buffer, ...).
  Tensor sub(int64_t element_offset, const Shape& shape) const;

  bool is_same_shape(const Tensor& other) const { return shape_ == other.shape_; }
  // True when both views cover at least one common byte of the same storage.
  bool overlaps(const Tensor& other) const;

  // Sets every element to `value` (converted to dtype), on the tensor's device.
  void fill(double value) const;
  // Copies src's elements (same numel; shapes may differ). Between floating dtypes values are
  // converted (fp32 -> bf16/fp16 rounds to nearest even); otherwise dtypes must match. Works
  // between any devices; returns once a host destination holds the data.
  void copy_from(const Tensor& src) const;
  // This tensor when it is undefined or already on `device`, else a copy of it there (same dtype
  // and shape): how host batches reach the GPU and device results reach the host.
  Tensor to(Device device) const;

  // "f32[2, 3] cpu" for messages.
  std::string describe() const;

 private:
  void check_access(DType requested) const;

  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
};

}  // namespace mcpp
