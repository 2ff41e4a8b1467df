#include "core/base/cuda/device_allocator.h"

#include <map>
#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/cuda/cuda_check.h"

namespace mcpp {

namespace {

class CachingAllocator {
 public:
  void* allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    size_t size = device_size_class(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* pointer = nullptr;
    auto cached = free_lists_.find(size);
    if (cached != free_lists_.end() && !cached->second.empty()) {
      pointer = cached->second.back();
      cached->second.pop_back();
    } else {
      pointer = malloc_from_driver(size, nbytes);
    }
    live_[pointer] = size;
    stats_.allocated_bytes += size;
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes) {
      stats_.peak_allocated_bytes = stats_.allocated_bytes;
    }
    return pointer;
  }

  void free(void* pointer) {
    if (!pointer) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = live_.find(pointer);
    check(found != live_.end(), "device_free of a pointer the device allocator does not own");
    size_t size = found->second;
    live_.erase(found);
    stats_.allocated_bytes -= size;
    // Work queued on the single stream that still reads this block runs before any later use
    // of it on that same stream, so the block can be reused at once.
    free_lists_[size].push_back(pointer);
  }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void count_external(size_t nbytes, bool allocated) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!allocated) {
      stats_.allocated_bytes -= nbytes;
      stats_.reserved_bytes -= nbytes;
      return;
    }
    stats_.allocated_bytes += nbytes;
    stats_.reserved_bytes += nbytes;
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
    stats_.peak_reserved_bytes = stats_.reserved_bytes;
  }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

 private:
  void* malloc_from_driver(size_t size, size_t requested) {
    void* pointer = nullptr;
    cudaError_t status = cudaMalloc(&pointer, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error state before retrying
      release_cached_locked();
      status = cudaMalloc(&pointer, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw Error("out of GPU memory allocating " + std::to_string(requested) + " bytes (" +
                  std::to_string(stats_.allocated_bytes) + " bytes in use by tensors, " +
                  std::to_string(stats_.reserved_bytes) + " reserved): reduce the micro-batch " +
                  "size or sequence length, or enable recomputation");
    }
    MCPP_CUDA_CHECK(status);
    ++stats_.cuda_malloc_calls;
    stats_.reserved_bytes += size;
    if (stats_.reserved_bytes > stats_.peak_reserved_bytes) {
      stats_.peak_reserved_bytes = stats_.reserved_bytes;
    }
    return pointer;
  }

  void release_cached_locked() {
    MCPP_CUDA_CHECK(cudaDeviceSynchronize());
    for (auto& [size, pointers] : free_lists_) {
      for (void* pointer : pointers) {
        MCPP_CUDA_CHECK(cudaFree(pointer));
        stats_.reserved_bytes -= size;
      }
      pointers.clear();
    }
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_lists_;
  std::unordered_map<void*, size_t> live_;
  DeviceMemoryStats stats_;
};

// Never destroyed: tensors released during static destruction (after the CUDA runtime may have
// shut down) still find their allocator; the driver reclaims everything at process exit.
CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

}  // namespace

size_t device_size_class(size_t nbytes) {
  constexpr size_t kSmallStep = 512;
  constexpr size_t kLargeFrom = size_t(1) << 20;
  if (nbytes <= kLargeFrom) return (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  // 4 classes per power of two: step = 2^(floor(log2(nbytes)) - 2).
  size_t power = kLargeFrom;
  while (power * 2 <= nbytes) power *= 2;
  size_t step = power / 4;
  return (nbytes + step - 1) / step * step;
}

void* device_allocate(size_t nbytes) { return allocator().allocate(nbytes); }
void device_free(void* pointer) { allocator().free(pointer); }
DeviceMemoryStats device_memory_stats() { return allocator().stats(); }
void reset_device_peak_stats() { allocator().reset_peak(); }
void release_cached_device_memory() { allocator().release_cached(); }
void count_external_device_memory(size_t nbytes, bool allocated) { allocator().count_external(nbytes, allocated); }

}  // namespace mcpp
