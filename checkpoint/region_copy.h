#pragma once
// Hyper-rectangle arithmetic for assembling a requested region of a global tensor from the
// stored pieces that overlap it.
#include <cstdint>

#include "checkpoint/dtype.h"
#include "checkpoint/shard_index.h"

namespace mcpp::ckpt {

struct Box {
  Shape begin;  // inclusive, global coordinates
  Shape end;    // exclusive
};

Box make_box(const Shape& offsets, const Shape& shape);
// The intersection of two boxes of equal rank; nullopt-like empty box when they do not overlap
// (check with box_empty).
Box intersect(const Box& a, const Box& b);
bool box_empty(const Box& box);
int64_t box_volume(const Box& box);

// Copies `part` (inside both boxes) from a row-major block `src` covering `src_box` to a
// row-major block `dst` covering `dst_box`, converting element types.
void copy_box(const void* src, const Box& src_box, DType src_type, void* dst, const Box& dst_box,
              DType dst_type, const Box& part);

}  // namespace mcpp::ckpt
