#include "core/optim/decay_mask.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"

namespace mcpp::optim {

void check_decay_ranges(size_t size, std::span<const ElementRange> no_decay) {
  size_t previous_end = 0;
  for (const ElementRange& r : no_decay) {
    check(r.begin <= r.end && r.end <= size && r.begin >= previous_end,
          "internal: no-weight-decay ranges must be sorted, disjoint and inside the span (range [" +
              std::to_string(r.begin) + ", " + std::to_string(r.end) + ") of a span of " +
              std::to_string(size) + ")");
    previous_end = r.end;
  }
}

std::vector<ElementRange> slice_ranges(std::span<const ElementRange> ranges, size_t offset, size_t size) {
  std::vector<ElementRange> out;
  const size_t slice_end = offset + size;
  for (const ElementRange& r : ranges) {
    const size_t begin = std::max(r.begin, offset);
    const size_t end = std::min(r.end, slice_end);
    if (begin < end) out.push_back({begin - offset, end - offset});
  }
  return out;
}

Tensor decay_mask_tensor(size_t size, std::span<const ElementRange> no_decay, Device device) {
  check_decay_ranges(size, no_decay);
  Tensor host = Tensor::empty({static_cast<int64_t>(size)}, DType::U8);
  uint8_t* mask = host.data<uint8_t>();
  std::fill_n(mask, size, uint8_t{1});
  for (const ElementRange& r : no_decay) std::fill(mask + r.begin, mask + r.end, uint8_t{0});
  return host.to(device);
}

}  // namespace mcpp::optim
