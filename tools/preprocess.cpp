// preprocess: JSONL -> Megatron .bin/.idx, with Megatron's tools/preprocess_data.py flags.
#include <glob.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/base/error.h"
#include "core/base/main_guard.h"
#include "data/tools/parse_flags.h"
#include "data/preprocess/preprocess.h"
#include "data/tokenizers/tokenizer.h"

namespace {

using mcpp::Error;
using mcpp::check;

// Megatron expands --input as a glob when partitioning; Python's glob order is the directory's,
// which is arbitrary, so the files are taken in name order here.
std::vector<std::string> resolve_inputs(const std::string& input, int partitions) {
  if (partitions == 1) {
    check(std::filesystem::is_regular_file(input),
          "--input " + input + ": no such file (with --partitions 1 it is a single file path)");
    return {input};
  }
  glob_t matches{};
  const int rc = ::glob(input.c_str(), 0, nullptr, &matches);
  std::vector<std::string> files;
  if (rc == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
  ::globfree(&matches);
  files.erase(std::remove_if(files.begin(), files.end(),
                             [](const std::string& f) { return !std::filesystem::is_regular_file(f); }),
              files.end());
  check(!files.empty(), "--input " + input + ": the pattern matches no file");
  std::sort(files.begin(), files.end());
  return files;
}

int run(int argc, char** argv) {
  CLI::App app{"Convert JSONL to Megatron .bin/.idx datasets (Megatron's preprocess_data.py)",
               "preprocess"};
  mcpp::data::PreprocessOptions options;
  mcpp::data::TokenizerOptions tokenizer;
  std::string input;
  app.add_option("--input", input, "JSONL file (.gz allowed); a glob with --partitions > 1")
      ->required();
  app.add_option("--output-prefix", options.output_prefix,
                 "writes {prefix}_{key}_document.bin/.idx")
      ->required();
  app.add_option("--json-keys", options.json_keys, "keys to extract, one dataset each")
      ->expected(1, 1 << 20);
  app.add_flag("--append-eod", options.append_eod, "append the EOD id to every non-empty document");
  app.add_option("--workers", options.workers, "tokenizer threads (divisible by --partitions)")
      ->required();
  app.add_option("--partitions", options.partitions,
                 "Megatron's partitioning: fixes the output document order (round-robin)");
  app.add_flag("--keep-sequential-samples", options.keep_sequential_samples,
               "contiguous partitions: keeps the input order");
  app.add_option("--log-interval", options.log_interval, "progress line every N documents");
  app.add_flag("--skip-invalid", options.skip_invalid,
               "skip bad input lines (counted and reported) instead of stopping");

  app.add_option("--tokenizer-type", tokenizer.type,
                 "GPT2BPETokenizer, HuggingFaceTokenizer, SentencePieceTokenizer, NullTokenizer")
      ->required();
  app.add_option("--tokenizer-model", tokenizer.tokenizer_model, "tokenizer.json or its directory");
  app.add_option("--vocab-file", tokenizer.vocab_file, "GPT-2 vocab.json");
  app.add_option("--merge-file", tokenizer.merge_file, "GPT-2 merges.txt");
  int64_t vocab_size = 0;
  auto* vocab_size_option = app.add_option("--vocab-size", vocab_size, "NullTokenizer vocabulary");
  int32_t null_eod = 0;
  auto* null_eod_option = app.add_option("--null-tokenizer-eod-id", null_eod, "NullTokenizer EOD");
  int vocab_extra_ids = 0;
  app.add_option("--vocab-extra-ids", vocab_extra_ids,
                 "accepted for compatibility; Megatron's preprocessing forces it to 0");

  // Megatron flags this implementation does not offer: rejected with a reason, never ignored.
  struct Unsupported {
    const char* flag;
    bool takes_value;
    const char* why;
  };
  const Unsupported unsupported[] = {
      {"--split-sentences", false,
       "NLTK sentence splitting is not supported; split sentences beforehand and give each "
       "document as a JSON list of sentences (each becomes one sequence)"},
      {"--keep-newlines", false, "it only applies to --split-sentences, which is not supported"},
      {"--lang", true, "it only applies to --split-sentences, which is not supported"},
      {"--find-optimal-num-workers", false, "the worker benchmark mode is not supported"},
      {"--workers-to-check", true, "the worker benchmark mode is not supported"},
      {"--max-documents", true, "the worker benchmark mode is not supported"},
      {"--tokenizer-metadata", true, "not supported"},
      {"--tokenizer-special-tokens", true, "not supported"},
      {"--tiktoken-pattern", true, "TikTokenizer is not supported"},
      {"--tiktoken-num-special-tokens", true, "TikTokenizer is not supported"},
      {"--null-tokenizer-pad-id", true, "not supported (it does not affect preprocessing)"},
      {"--tokenizer-hf-no-use-fast", false, "only the fast (tokenizers-library) behaviour exists"},
      {"--trust-remote-code", false, "no Python code is ever run"},
  };
  std::vector<std::pair<CLI::Option*, const Unsupported*>> unsupported_options;
  std::vector<std::string> ignored_values;
  for (const Unsupported& u : unsupported) {
    CLI::Option* option = u.takes_value
                              ? app.add_option(u.flag, ignored_values)->expected(0, 1 << 20)
                              : app.add_flag(u.flag);
    option->group("");  // hidden from --help
    unsupported_options.emplace_back(option, &u);
  }

  if (auto code = mcpp::data::parse_flags(app, argc, argv)) return *code;
  for (auto& [option, u] : unsupported_options)
    check(option->count() == 0, std::string(u->flag) + ": " + u->why);
  check(vocab_extra_ids == 0,
        "--vocab-extra-ids: Megatron's preprocessing always uses 0; drop the flag");
  check(options.workers >= 1, "--workers must be at least 1");
  check(options.partitions >= 1, "--partitions must be at least 1");
  check(options.workers % options.partitions == 0,
        "--workers " + std::to_string(options.workers) + " is not divisible by --partitions " +
            std::to_string(options.partitions) + " (Megatron requires it)");
  check(options.log_interval >= 0, "--log-interval must not be negative");
  for (size_t i = 0; i < options.json_keys.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      check(options.json_keys[i] != options.json_keys[j],
            "--json-keys: '" + options.json_keys[i] + "' is listed twice");
  if (vocab_size_option->count()) tokenizer.vocab_size = vocab_size;
  if (null_eod_option->count()) tokenizer.null_eod_id = null_eod;

  options.inputs = resolve_inputs(input, options.partitions);
  auto tok = mcpp::data::make_tokenizer(tokenizer);
  const auto summary = mcpp::data::preprocess(options, *tok);

  const double mb = summary.input_bytes / 1024.0 / 1024.0;
  const double seconds = std::max(summary.seconds, 1e-9);
  std::fprintf(stderr,
               "Done: %llu documents, %llu tokens, %.1f MB in %.2f s (%.2f MB/s, %.0f docs/s, "
               "%d workers).\n",
               static_cast<unsigned long long>(summary.documents),
               static_cast<unsigned long long>(summary.tokens), mb, seconds, mb / seconds,
               summary.documents / seconds, options.workers);
  if (summary.skipped_lines > 0) {
    std::fprintf(stderr, "Skipped %llu invalid lines; the first: %s\n",
                 static_cast<unsigned long long>(summary.skipped_lines),
                 summary.first_skip_message.c_str());
  }
  for (const std::string& prefix : summary.output_prefixes)
    std::fprintf(stderr, "Wrote %s.bin and %s.idx\n", prefix.c_str(), prefix.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return mcpp::run_main([&] { return run(argc, argv); });
}
