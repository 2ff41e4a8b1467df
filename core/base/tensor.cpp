#include "core/base/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/device_allocator.h"
#include "core/base/cuda/stream.h"
#include "core/base/cuda/tensor_cuda.h"
#endif

namespace mcpp {

const char* device_name(Device device) { return device == Device::CPU ? "cpu" : "cuda"; }

// ---- Shape ----

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t dim : dims) push_back(dim);
}

void Shape::push_back(int64_t dim) {
  check(rank_ < kMaxRank, "tensor shape has more than 5 dimensions");
  check(dim >= 0, "tensor shape has a negative dimension");
  dims_[rank_++] = dim;
}

int64_t Shape::operator[](int index) const {
  int i = index < 0 ? index + rank_ : index;
  check(i >= 0 && i < rank_, "dimension index " + std::to_string(index) + " out of range for " + to_string());
  return dims_[i];
}

int64_t& Shape::operator[](int index) {
  int i = index < 0 ? index + rank_ : index;
  check(i >= 0 && i < rank_, "dimension index " + std::to_string(index) + " out of range for " + to_string());
  return dims_[i];
}

int64_t Shape::numel() const {
  int64_t count = 1;
  for (int i = 0; i < rank_; ++i) count *= dims_[i];
  return count;
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i) {
    if (dims_[i] != other.dims_[i]) return false;
  }
  return true;
}

std::string Shape::to_string() const {
  std::string text = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) text += ", ";
    text += std::to_string(dims_[i]);
  }
  return text + "]";
}

// ---- Storage ----

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  if (device == Device::CUDA) {
#ifdef MCPP_HAVE_CUDA
    return std::shared_ptr<Storage>(new Storage(device_allocate(nbytes), nbytes, device));
#else
    throw Error("CUDA tensors are not available in this build (CPU backend only)");
#endif
  }
  constexpr size_t kAlignment = 64;
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  void* data = rounded ? std::aligned_alloc(kAlignment, rounded) : nullptr;
  check(rounded == 0 || data != nullptr,
        "out of host memory allocating " + std::to_string(nbytes) + " bytes");
  return std::shared_ptr<Storage>(new Storage(data, nbytes, device));
}

std::shared_ptr<Storage> Storage::adopt(void* data, size_t nbytes, Device device,
                                        std::function<void(void*)> release) {
  check(release != nullptr, "internal: adopted storage needs a release function");
  auto storage = std::shared_ptr<Storage>(new Storage(data, nbytes, device));
  storage->release_ = std::move(release);
  return storage;
}

Storage::~Storage() {
  if (release_) {
    release_(data_);
    return;
  }
  if (device_ == Device::CPU) std::free(data_);
#ifdef MCPP_HAVE_CUDA
  if (device_ == Device::CUDA) device_free(data_);
#endif
}

// ---- Tensor ----

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor tensor;
  tensor.storage_ = Storage::allocate(size_t(shape.numel()) * dtype_size(dtype), device);
  tensor.shape_ = shape;
  tensor.dtype_ = dtype;
  return tensor;
}

Tensor Tensor::over(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype) {
  check(storage != nullptr && size_t(shape.numel()) * dtype_size(dtype) <= storage->nbytes(),
        "internal: a tensor of " + shape.to_string() + " " + dtype_name(dtype) + " does not fit its storage");
  Tensor tensor;
  tensor.storage_ = std::move(storage);
  tensor.shape_ = shape;
  tensor.dtype_ = dtype;
  return tensor;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor tensor = empty(shape, dtype, device);
  if (tensor.nbytes() == 0) return tensor;
#ifdef MCPP_HAVE_CUDA
  if (device == Device::CUDA) {
    MCPP_CUDA_CHECK(cudaMemsetAsync(tensor.raw_data(), 0, tensor.nbytes(), current_stream()));
    return tensor;
  }
#endif
  std::memset(tensor.raw_data(), 0, tensor.nbytes());
  return tensor;
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::CPU; }

void* Tensor::raw_data() const {
  check(defined(), "access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * int64_t(dtype_size(dtype_));
}

void Tensor::check_access(DType requested) const {
  check(defined(), "access to an undefined tensor");
  check(requested == dtype_, std::string("tensor ") + describe() + " accessed as " + dtype_name(requested));
}

Tensor Tensor::view(const Shape& new_shape) const {
  check(defined(), "view of an undefined tensor");
  check(new_shape.numel() == numel(),
        "cannot view " + describe() + " as " + new_shape.to_string() + " (element counts differ)");
  Tensor result = *this;
  result.shape_ = new_shape;
  return result;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  check(defined() && rank() >= 1, "slice of an undefined or 0-d tensor");
  check(0 <= begin && begin <= end && end <= shape_[0],
        "slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for " + describe());
  Tensor result = *this;
  int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  result.offset_ += begin * row;
  result.shape_[0] = end - begin;
  return result;
}

Tensor Tensor::sub(int64_t element_offset, const Shape& shape) const {
  check(defined(), "sub-view of an undefined tensor");
  check(element_offset >= 0 && element_offset + shape.numel() <= numel(),
        "sub-view of " + std::to_string(shape.numel()) + " elements at " + std::to_string(element_offset) +
            " out of range for " + describe());
  Tensor result = *this;
  result.offset_ += element_offset;
  result.shape_ = shape;
  return result;
}

bool Tensor::overlaps(const Tensor& other) const {
  if (!defined() || !other.defined() || storage_ != other.storage_) return false;
  int64_t begin = offset_ * int64_t(dtype_size(dtype_));
  int64_t end = begin + int64_t(nbytes());
  int64_t other_begin = other.offset_ * int64_t(dtype_size(other.dtype_));
  int64_t other_end = other_begin + int64_t(other.nbytes());
  return begin < other_end && other_begin < end && begin < end && other_begin < other_end;
}

namespace {

// Reads element i of a floating tensor as fp32.
float load_float(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(data)[i];
    case DType::BF16: return bf16_to_float(static_cast<const bf16*>(data)[i]);
    case DType::F16: return f16_to_float(static_cast<const f16*>(data)[i]);
    default: throw Error(std::string("no float conversion for dtype ") + dtype_name(dtype));
  }
}

void store_float(void* data, DType dtype, int64_t i, float value) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(data)[i] = value; return;
    case DType::BF16: static_cast<bf16*>(data)[i] = float_to_bf16(value); return;
    case DType::F16: static_cast<f16*>(data)[i] = float_to_f16(value); return;
    default: throw Error(std::string("no float conversion for dtype ") + dtype_name(dtype));
  }
}

bool is_convertible_float(DType dtype) {
  return dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16;
}

}  // namespace

void Tensor::fill(double value) const {
  void* data = raw_data();
  if (device() == Device::CUDA) {
#ifdef MCPP_HAVE_CUDA
    return cuda_detail::fill_device(data, dtype_, numel(), value);
#endif
  }
  int64_t n = numel();
  switch (dtype_) {
    case DType::I32: std::fill_n(static_cast<int32_t*>(data), n, int32_t(value)); return;
    case DType::I64: std::fill_n(static_cast<int64_t*>(data), n, int64_t(value)); return;
    case DType::U8: std::fill_n(static_cast<uint8_t*>(data), n, uint8_t(value)); return;
    default: break;
  }
  check(is_convertible_float(dtype_), std::string("Tensor::fill does not support ") + dtype_name(dtype_));
  for (int64_t i = 0; i < n; ++i) store_float(data, dtype_, i, float(value));
}

Tensor Tensor::to(Device device) const {
  if (!defined() || this->device() == device) return *this;
  Tensor out = empty(shape_, dtype_, device);
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) const {
  check(numel() == src.numel(), "copy from " + src.describe() + " into " + describe() + ": element counts differ");
  if (device() == Device::CUDA || src.device() == Device::CUDA) {
#ifdef MCPP_HAVE_CUDA
    if (dtype_ == src.dtype_) {
      // cudaMemcpyDefault: unified addressing tells host from device pointers. Synchronous for
      // host memory involved, so the host may read or reuse its buffer right after.
      if (nbytes()) {
        MCPP_CUDA_CHECK(cudaMemcpyAsync(raw_data(), src.raw_data(), nbytes(), cudaMemcpyDefault,
                                        current_stream()));
        if (device() == Device::CPU || src.device() == Device::CPU) {
          MCPP_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
        }
      }
      return;
    }
    check(is_convertible_float(dtype_) && is_convertible_float(src.dtype_),
          "copy from " + src.describe() + " into " + describe() + ": no conversion between these dtypes");
    if (device() == Device::CUDA && src.device() == Device::CUDA) {
      return cuda_detail::convert_device(src.raw_data(), src.dtype_, raw_data(), dtype_, numel());
    }
    // Across devices with a conversion: move the bytes first, convert where the result lives.
    Tensor staged = Tensor::empty(shape_, src.dtype_, device());
    staged.copy_from(src);
    return copy_from(staged);
#endif
  }
  if (dtype_ == src.dtype_) {
    if (nbytes()) std::memmove(raw_data(), src.raw_data(), nbytes());
    return;
  }
  check(is_convertible_float(dtype_) && is_convertible_float(src.dtype_),
        "copy from " + src.describe() + " into " + describe() + ": no conversion between these dtypes");
  const void* from = src.raw_data();
  void* to = raw_data();
  for (int64_t i = 0, n = numel(); i < n; ++i) store_float(to, dtype_, i, load_float(from, src.dtype_, i));
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_.to_string() + " " + device_name(device());
}

}  // namespace mcpp
