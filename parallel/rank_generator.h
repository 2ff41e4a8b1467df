#pragma once
// Megatron's rank grid (compat §4.1): an order string such as "tp-cp-ep-dp-pp" lists the parallel
// axes from fastest-varying (stride 1) to slowest. A group token such as "dp-cp" names the axes
// that vary inside one group; every other coordinate is shared by the group's members.
#include <string>
#include <vector>

namespace mcpp::parallel {

struct ParallelSizes {
  int tp = 1;
  int cp = 1;
  int ep = 1;
  int dp = 1;
  int pp = 1;
};

class RankGenerator {
 public:
  // `order` e.g. "tp-cp-ep-dp-pp"; axes of size 1 missing from it are appended, a missing axis of
  // size > 1 is an error. `rank_offset` shifts every rank (Megatron's rank_offset).
  RankGenerator(const ParallelSizes& sizes, const std::string& order, int rank_offset = 0);

  int world_size() const { return world_size_; }

  // All groups for `token` (e.g. "tp", "dp-cp", "tp-pp"), each a list of global ranks, in
  // Megatron's enumeration order: members vary the named axes in order-string order (first named
  // axis fastest), groups vary the remaining axes likewise.
  std::vector<std::vector<int>> groups(const std::string& token) const;

  // The one group of `token` that contains `rank`.
  std::vector<int> group_of(const std::string& token, int rank) const;

  // Coordinate of `rank` along `axis` ("tp", "cp", "ep", "dp" or "pp").
  int coordinate(int rank, const std::string& axis) const;

 private:
  std::vector<std::string> axes_;  // in order-string order, all five
  std::vector<int> sizes_;         // matching axes_
  int world_size_ = 1;
  int rank_offset_ = 0;
};

}  // namespace mcpp::parallel
