// Many threads on one tokenizer, long pieces, and (hidden) throughput benchmarks.
#include <catch2/catch.hpp>

#include <cstdio>
#include <chrono>
#include <ctime>
#include <thread>

#include "tokenizer_fixtures.h"

namespace {

void expect_same_ids_on_threads(const mcpp::data::Tokenizer& tokenizer) {
  const auto& docs = mcpp::test::texts("fortunes");
  const size_t count = std::min<size_t>(docs.size(), 3000);
  std::vector<std::vector<int32_t>> expected(count);
  for (size_t i = 0; i < count; ++i) expected[i] = tokenizer.encode(docs[i]);

  constexpr int kThreads = 8;
  std::vector<size_t> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the documents from a different starting point.
      for (size_t k = 0; k < count; ++k) {
        size_t i = (k + size_t(t) * count / kThreads) % count;
        if (tokenizer.encode(docs[i]) != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) CHECK(mismatches[t] == 0);
}

// CPU seconds of this thread: the machine running tests is often shared, wall time is not.
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

}  // namespace

TEST_CASE("Threads sharing one tokenizer get identical ids") {
  expect_same_ids_on_threads(*mcpp::test::gpt2_bpe_tokenizer());
  expect_same_ids_on_threads(*mcpp::test::hf_tokenizer("llama2"));
}

// Benchmarks, not part of the suite (hidden tag): test_tokenizers "[.benchmark]"
TEST_CASE("GPT-2 encode throughput on fortunes, one thread", "[.benchmark]") {
  auto tokenizer = mcpp::test::gpt2_bpe_tokenizer();
  const auto& docs = mcpp::test::texts("fortunes");
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  std::vector<int32_t> ids;
  for (const char* name : {"HuggingFaceTokenizer gpt2", "GPT2BPETokenizer"}) {
    auto t = std::string(name) == "GPT2BPETokenizer" ? mcpp::test::gpt2_bpe_tokenizer()
                                                     : mcpp::test::hf_tokenizer("gpt2");
    for (int round = 0; round < 4; ++round) {
      double start = thread_seconds();
      size_t count = 0;
      for (const auto& d : docs) {
        ids.clear();
        t->encode(d, ids);
        count += ids.size();
      }
      double s = thread_seconds() - start;
      std::printf("%s round %d: %.1f MB/s (%zu tokens)\n", name, round, bytes / s / 1e6, count);
    }
  }
}

TEST_CASE("Encode throughput of the other tokenizers on fortunes, one thread", "[.benchmark]") {
  const auto& docs = mcpp::test::texts("fortunes");
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  std::vector<int32_t> ids;
  for (const char* name : {"llama2", "llama3", "qwen2.5"}) {
    auto t = mcpp::test::hf_tokenizer(name);
    for (int round = 0; round < 2; ++round) {
      double start = thread_seconds();
      for (const auto& d : docs) {
        ids.clear();
        t->encode(d, ids);
      }
      double s = thread_seconds() - start;
      std::printf("%s round %d: %.1f MB/s\n", name, round, bytes / s / 1e6);
    }
  }
}

TEST_CASE("Very long pieces are merged in O(n log n)") {
  // One 300,000-character pre-token for GPT-2 and a whole space-free document for Llama-2: a
  // quadratic merge loop would take minutes here.
  const std::string letters(300000, 'a');
  const std::string words = [] {
    std::string s;
    for (int i = 0; i < 30000; ++i) s += "xyzzy\xC3\xA9";
    return s;
  }();
  auto start = std::chrono::steady_clock::now();
  auto gpt2 = mcpp::test::gpt2_bpe_tokenizer();
  CHECK(gpt2->decode(gpt2->encode(letters)) == letters);
  CHECK(gpt2->decode(gpt2->encode(words)) == words);
  auto llama2 = mcpp::test::hf_tokenizer("llama2");
  std::vector<int32_t> ids = llama2->encode(words);
  CHECK(llama2->decode(std::span<const int32_t>(ids).subspan(1)) == words);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}
