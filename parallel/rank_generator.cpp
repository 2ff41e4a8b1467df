#include "parallel/rank_generator.h"

#include <algorithm>
#include <sstream>

#include "core/base/error.h"

namespace mcpp::parallel {
namespace {

std::vector<std::string> split_dashes(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, '-')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// Mixed-radix digits of `index` over `shape`, first digit fastest.
std::vector<int> decompose(int index, const std::vector<int>& shape) {
  std::vector<int> digits(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    digits[i] = index % shape[i];
    index /= shape[i];
  }
  return digits;
}

}  // namespace

RankGenerator::RankGenerator(const ParallelSizes& sizes, const std::string& order, int rank_offset)
    : rank_offset_(rank_offset) {
  const std::vector<std::pair<std::string, int>> known = {
      {"tp", sizes.tp}, {"cp", sizes.cp}, {"ep", sizes.ep}, {"dp", sizes.dp}, {"pp", sizes.pp}};
  axes_ = split_dashes(order);
  for (const auto& axis : axes_) {
    auto it = std::find_if(known.begin(), known.end(), [&](auto& k) { return k.first == axis; });
    check(it != known.end(), "parallel order '" + order + "' names unknown axis '" + axis +
                                 "' (use tp, cp, ep, dp, pp)");
    check(std::count(axes_.begin(), axes_.end(), axis) == 1,
          "parallel order '" + order + "' names axis '" + axis + "' twice");
  }
  for (const auto& [axis, size] : known) {
    check(size >= 1, "parallel size of " + axis + " must be >= 1");
    if (std::find(axes_.begin(), axes_.end(), axis) == axes_.end()) {
      check(size == 1, "parallel order '" + order + "' lacks axis '" + axis + "' of size " +
                           std::to_string(size));
      axes_.push_back(axis);
    }
  }
  for (const auto& axis : axes_) {
    auto it = std::find_if(known.begin(), known.end(), [&](auto& k) { return k.first == axis; });
    sizes_.push_back(it->second);
    world_size_ *= it->second;
  }
}

std::vector<std::vector<int>> RankGenerator::groups(const std::string& token) const {
  std::vector<std::string> named = split_dashes(token);
  for (const auto& axis : named) {
    check(std::find(axes_.begin(), axes_.end(), axis) != axes_.end(),
          "parallel group token '" + token + "' names unknown axis '" + axis + "'");
  }
  std::vector<int> masked_shape, masked_stride, unmasked_shape, unmasked_stride;
  int stride = 1;
  for (size_t i = 0; i < axes_.size(); ++i) {
    bool in_group = std::find(named.begin(), named.end(), axes_[i]) != named.end();
    (in_group ? masked_shape : unmasked_shape).push_back(sizes_[i]);
    (in_group ? masked_stride : unmasked_stride).push_back(stride);
    stride *= sizes_[i];
  }
  int group_size = 1;
  for (int s : masked_shape) group_size *= s;
  const int group_count = world_size_ / group_size;

  std::vector<std::vector<int>> result(group_count);
  for (int g = 0; g < group_count; ++g) {
    std::vector<int> group_digits = decompose(g, unmasked_shape);
    int base = rank_offset_;
    for (size_t i = 0; i < group_digits.size(); ++i) base += group_digits[i] * unmasked_stride[i];
    for (int m = 0; m < group_size; ++m) {
      std::vector<int> member_digits = decompose(m, masked_shape);
      int rank = base;
      for (size_t i = 0; i < member_digits.size(); ++i) rank += member_digits[i] * masked_stride[i];
      result[g].push_back(rank);
    }
  }
  return result;
}

std::vector<int> RankGenerator::group_of(const std::string& token, int rank) const {
  for (auto& group : groups(token)) {
    if (std::find(group.begin(), group.end(), rank) != group.end()) return group;
  }
  throw Error("rank " + std::to_string(rank) + " is outside the parallel grid of " +
              std::to_string(world_size_) + " ranks");
}

int RankGenerator::coordinate(int rank, const std::string& axis) const {
  int local = rank - rank_offset_;
  for (size_t i = 0; i < axes_.size(); ++i) {
    if (axes_[i] == axis) return local % sizes_[i];
    local /= sizes_[i];
  }
  throw Error("unknown parallel axis '" + axis + "'");
}

}  // namespace mcpp::parallel
