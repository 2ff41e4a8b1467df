#pragma once
// Caching allocator for device memory. cudaMalloc/cudaFree synchronise the device and are slow,
// so freed blocks go to a free list of their size class and are handed out again; cudaMalloc
// runs only on a miss (and, when it fails, once more after returning every cached block).
//
// Size classes: requests round up to 512 bytes below 1 MiB, then to the next of 4 steps per
// power of two (at most 25% slack), so a block of one class serves every request of that class.
// All blocks are 256-byte aligned (cudaMalloc's guarantee), enough for 16-byte vector loads.
#include <cstddef>
#include <cstdint>

namespace mcpp {

struct DeviceMemoryStats {
  size_t allocated_bytes = 0;       // held by live tensors (size-class rounded)
  size_t peak_allocated_bytes = 0;  // maximum of allocated_bytes since start / reset_peak
  size_t reserved_bytes = 0;        // obtained from cudaMalloc (live + cached)
  size_t peak_reserved_bytes = 0;
  uint64_t cuda_malloc_calls = 0;
};

// Rounded size of a request of `nbytes` (its size class).
size_t device_size_class(size_t nbytes);

// A block of at least nbytes on the current device (nullptr for 0 bytes). Throws mcpp::Error
// naming the request and the allocator's state when the device is out of memory.
void* device_allocate(size_t nbytes);
// Returns a block from device_allocate to its free list (nullptr is ignored).
void device_free(void* pointer);

DeviceMemoryStats device_memory_stats();
void reset_device_peak_stats();
// Gives every cached (free) block back to the driver.
void release_cached_device_memory();
// Device memory that tensors hold but another library allocated (NCCL's symmetric windows):
// counted in the stats as allocated and reserved while it lives, so peaks include it.
void count_external_device_memory(size_t nbytes, bool allocated);

}  // namespace mcpp
