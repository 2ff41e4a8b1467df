#pragma once
// Which elements of a flat span get weight decay. Megatron puts every 1-D parameter and every
// bias into a "no weight decay" group; in a flat buffer (or the slice of it one rank owns) those
// parameters are element ranges. The optimizers below walk the span segment by segment.
#include <cstddef>
#include <span>
#include <vector>

#include "core/base/tensor.h"

namespace mcpp::optim {

// Elements [begin, end) of the span, relative to its first element.
struct ElementRange {
  size_t begin = 0;
  size_t end = 0;
  bool operator==(const ElementRange&) const = default;
};

// Calls fn(begin, end, decays) for consecutive segments covering [0, size): decays is false inside
// a no-decay range. Ranges must be sorted, non-overlapping and inside the span (checked).
template <typename Fn>
void for_each_decay_segment(size_t size, std::span<const ElementRange> no_decay, Fn&& fn);

// Throws mcpp::Error unless `no_decay` is sorted, non-overlapping and within [0, size).
void check_decay_ranges(size_t size, std::span<const ElementRange> no_decay);

// The part of `ranges` (given for a whole buffer) that falls inside [offset, offset+size),
// re-based to the slice: what a rank owning that slice passes to the optimizer.
std::vector<ElementRange> slice_ranges(std::span<const ElementRange> ranges, size_t offset, size_t size);

// The same ranges as a U8 mask of `size` elements on `device` (1 = decays), the form the GPU
// optimizer kernels read.
Tensor decay_mask_tensor(size_t size, std::span<const ElementRange> no_decay, Device device);

template <typename Fn>
void for_each_decay_segment(size_t size, std::span<const ElementRange> no_decay, Fn&& fn) {
  check_decay_ranges(size, no_decay);
  size_t pos = 0;
  for (const ElementRange& r : no_decay) {
    if (r.begin > pos) fn(pos, r.begin, true);
    if (r.end > r.begin) fn(r.begin, r.end, false);
    pos = r.end;
  }
  if (pos < size) fn(pos, size, true);
}

}  // namespace mcpp::optim
