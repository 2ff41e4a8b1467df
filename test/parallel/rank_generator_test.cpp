#include <catch2/catch.hpp>

#include <map>
#include <algorithm>
#include <set>
#include <sstream>

#include "core/base/error.h"
#include "parallel/rank_generator.h"

using mcpp::parallel::ParallelSizes;
using mcpp::parallel::RankGenerator;
using Groups = std::vector<std::vector<int>>;

namespace {
const std::string kOrder = "tp-cp-ep-dp-pp";
}

TEST_CASE("compat 4.3: world 16, tp=2, cp=2, pp=2 -> dp=2, dense groups") {
  RankGenerator dense({.tp = 2, .cp = 2, .ep = 1, .dp = 2, .pp = 2}, kOrder);
  REQUIRE(dense.world_size() == 16);
  CHECK(dense.groups("tp") == Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}});
  CHECK(dense.groups("cp") == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}, {8, 10}, {9, 11}, {12, 14}, {13, 15}});
  CHECK(dense.groups("dp") == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {8, 12}, {9, 13}, {10, 14}, {11, 15}});
  CHECK(dense.groups("dp-cp") == Groups{{0, 2, 4, 6}, {1, 3, 5, 7}, {8, 10, 12, 14}, {9, 11, 13, 15}});
  CHECK(dense.groups("cp-dp") == dense.groups("dp-cp"));
  CHECK(dense.groups("pp") == Groups{{0, 8}, {1, 9}, {2, 10}, {3, 11}, {4, 12}, {5, 13}, {6, 14}, {7, 15}});
  CHECK(dense.groups("tp-pp") == Groups{{0, 1, 8, 9}, {2, 3, 10, 11}, {4, 5, 12, 13}, {6, 7, 14, 15}});
  CHECK(dense.groups("tp-cp") == Groups{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}});
  CHECK(dense.groups("tp-dp") == Groups{{0, 1, 4, 5}, {2, 3, 6, 7}, {8, 9, 12, 13}, {10, 11, 14, 15}});
  CHECK(dense.groups("tp-dp-cp") == Groups{{0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}});
  // rank 5 = tp1, cp0, dp1, pp0
  CHECK(dense.coordinate(5, "tp") == 1);
  CHECK(dense.coordinate(5, "cp") == 0);
  CHECK(dense.coordinate(5, "dp") == 1);
  CHECK(dense.coordinate(5, "pp") == 0);
  CHECK(dense.group_of("dp-cp", 5) == std::vector<int>{1, 3, 5, 7});
}

TEST_CASE("compat 4.3: expert groups on the same 16 ranks") {
  // ep=4, etp=1 -> edp = 16 / (1*4*2) = 2
  RankGenerator expert({.tp = 1, .cp = 1, .ep = 4, .dp = 2, .pp = 2}, kOrder);
  CHECK(expert.groups("ep") == Groups{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}});
  CHECK(expert.groups("dp") == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {8, 12}, {9, 13}, {10, 14}, {11, 15}});
  CHECK(expert.groups("tp-ep-pp") == Groups{{0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15}});
  CHECK(expert.groups("tp").size() == 16);
  // ep=2, etp=2
  RankGenerator expert2({.tp = 2, .cp = 1, .ep = 2, .dp = 2, .pp = 2}, kOrder);
  CHECK(expert2.groups("tp")[0] == std::vector<int>{0, 1});
  CHECK(expert2.groups("ep")[0] == std::vector<int>{0, 2});
  CHECK(expert2.groups("ep")[1] == std::vector<int>{1, 3});
  CHECK(expert2.groups("ep")[2] == std::vector<int>{4, 6});
  CHECK(expert2.groups("dp")[0] == std::vector<int>{0, 4});
  CHECK(expert2.groups("dp")[1] == std::vector<int>{1, 5});
}

// An independent construction: compute every rank's coordinates by division, bucket ranks by
// their coordinates outside the token, order members and groups by mixed-radix index.
static Groups golden_groups(const std::vector<std::string>& axes, const std::vector<int>& sizes,
                            const std::set<std::string>& named) {
  int world = 1;
  for (int s : sizes) world *= s;
  std::map<std::vector<int>, std::map<std::vector<int>, int>> buckets;  // key: reversed outside coords
  for (int rank = 0; rank < world; ++rank) {
    std::vector<int> inside, outside;
    int rest = rank;
    for (size_t i = 0; i < axes.size(); ++i) {
      int c = rest % sizes[i];
      rest /= sizes[i];
      (named.count(axes[i]) ? inside : outside).push_back(c);
    }
    // std::map orders lexicographically; reverse so that the first axis varies fastest.
    std::reverse(inside.begin(), inside.end());
    std::reverse(outside.begin(), outside.end());
    buckets[outside][inside] = rank;
  }
  Groups result;
  for (auto& [outside, members] : buckets) {
    result.emplace_back();
    for (auto& [inside, rank] : members) result.back().push_back(rank);
  }
  return result;
}

TEST_CASE("rank generator equals an independent construction for many layouts") {
  const std::vector<std::string> tokens = {"tp", "cp", "dp", "pp", "ep", "dp-cp", "tp-pp",
                                           "tp-cp", "tp-dp", "tp-dp-cp", "tp-ep-pp", "pp-tp"};
  int checked = 0;
  for (const std::string order : {"tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp"}) {
    for (int tp : {1, 2, 4})
      for (int cp : {1, 2})
        for (int ep : {1, 2})
          for (int dp : {1, 2, 3})
            for (int pp : {1, 2, 4}) {
              RankGenerator gen({.tp = tp, .cp = cp, .ep = ep, .dp = dp, .pp = pp}, order);
              std::vector<std::string> axes = order == "tp-cp-ep-dp-pp"
                                                  ? std::vector<std::string>{"tp", "cp", "ep", "dp", "pp"}
                                                  : std::vector<std::string>{"tp", "cp", "ep", "pp", "dp"};
              std::map<std::string, int> size_of = {{"tp", tp}, {"cp", cp}, {"ep", ep}, {"dp", dp}, {"pp", pp}};
              std::vector<int> sizes;
              for (auto& a : axes) sizes.push_back(size_of[a]);
              for (const auto& token : tokens) {
                std::set<std::string> named;
                std::stringstream ss(token);
                std::string part;
                while (std::getline(ss, part, '-')) named.insert(part);
                INFO("order " << order << " tp" << tp << " cp" << cp << " ep" << ep << " dp" << dp
                              << " pp" << pp << " token " << token);
                REQUIRE(gen.groups(token) == golden_groups(axes, sizes, named));
                ++checked;
              }
            }
  }
  CHECK(checked == 2 * 3 * 2 * 2 * 3 * 3 * 12);
}

TEST_CASE("rank generator rejects bad orders") {
  CHECK_THROWS_AS(RankGenerator({.tp = 2}, "cp-dp-pp"), mcpp::Error);
  CHECK_THROWS_AS(RankGenerator({}, "tp-xx"), mcpp::Error);
  CHECK_THROWS_AS(RankGenerator({}, "tp-tp"), mcpp::Error);
  CHECK_NOTHROW(RankGenerator({.tp = 2}, "tp"));
}
