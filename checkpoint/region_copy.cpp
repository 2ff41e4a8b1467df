#include "checkpoint/region_copy.h"

#include <algorithm>

namespace mcpp::ckpt {

Box make_box(const Shape& offsets, const Shape& shape) {
  Box box{offsets, offsets};
  for (size_t d = 0; d < shape.size(); ++d) box.end[d] += shape[d];
  return box;
}

Box intersect(const Box& a, const Box& b) {
  Box box = a;
  for (size_t d = 0; d < a.begin.size(); ++d) {
    box.begin[d] = std::max(a.begin[d], b.begin[d]);
    box.end[d] = std::max(box.begin[d], std::min(a.end[d], b.end[d]));
  }
  return box;
}

bool box_empty(const Box& box) { return box_volume(box) == 0; }

int64_t box_volume(const Box& box) {
  int64_t volume = 1;
  for (size_t d = 0; d < box.begin.size(); ++d) volume *= box.end[d] - box.begin[d];
  return volume;
}

// Row-major element strides of a box.
static Shape strides_of(const Box& box) {
  Shape strides(box.begin.size(), 1);
  for (size_t d = box.begin.size(); d-- > 1;) strides[d - 1] = strides[d] * (box.end[d] - box.begin[d]);
  return strides;
}

void copy_box(const void* src, const Box& src_box, DType src_type, void* dst, const Box& dst_box,
              DType dst_type, const Box& part) {
  const size_t rank = part.begin.size();
  const auto* src_bytes = static_cast<const uint8_t*>(src);
  auto* dst_bytes = static_cast<uint8_t*>(dst);
  const size_t src_elem = dtype_size(src_type), dst_elem = dtype_size(dst_type);
  if (rank == 0) {
    convert_elements(src_bytes, src_type, dst_bytes, dst_type, 1);
    return;
  }
  if (box_empty(part)) return;
  Shape src_strides = strides_of(src_box), dst_strides = strides_of(dst_box);
  // Trailing dimensions the part spans fully in both blocks are contiguous in both: copy them
  // as one run. `outer` is the number of leading dimensions the copy walks.
  size_t outer = rank - 1;
  auto extent = [](const Box& box, size_t d) { return box.end[d] - box.begin[d]; };
  while (outer > 0 && extent(part, outer) == extent(src_box, outer) &&
         extent(part, outer) == extent(dst_box, outer)) {
    --outer;
  }
  int64_t run = 1;
  for (size_t d = outer; d < rank; ++d) run *= extent(part, d);
  Shape index = part.begin;
  while (true) {
    int64_t src_at = 0, dst_at = 0;
    for (size_t d = 0; d < rank; ++d) {
      src_at += (index[d] - src_box.begin[d]) * src_strides[d];
      dst_at += (index[d] - dst_box.begin[d]) * dst_strides[d];
    }
    convert_elements(src_bytes + src_at * src_elem, src_type, dst_bytes + dst_at * dst_elem,
                     dst_type, size_t(run));
    // Advance the multi-index over dimensions 0..outer-1 (odometer order).
    size_t d = outer;
    while (d > 0 && ++index[d - 1] == part.end[d - 1]) {
      index[d - 1] = part.begin[d - 1];
      --d;
    }
    if (d == 0) return;
  }
}

}  // namespace mcpp::ckpt
