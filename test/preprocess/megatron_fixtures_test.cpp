// Byte-for-byte equality with datasets written by Megatron-LM's own preprocessing
// (tools/preprocess_data.py --append-eod) for the shared texts and real tokenizers.
#include <catch2/catch.hpp>

#include "test/preprocess/preprocess_support.h"

namespace fs = std::filesystem;
using mcpp::test::quoted;

namespace {

// A Hugging Face tokenizer directory whose tokenizer.json is stored gzipped in the shared data:
// the decompressed copy plus its tokenizer_config.json, in the build tree.
fs::path hf_directory(const std::string& name) {
  fs::path json = mcpp::test::gunzipped_data_file("tokenizers/" + name + "/tokenizer.json.gz");
  fs::path config = json.parent_path() / "tokenizer_config.json";
  fs::copy_file(mcpp::test::data_file("tokenizers/" + name + "/tokenizer_config.json"), config,
                fs::copy_options::overwrite_existing);
  return json.parent_path();
}

void check_matches_megatron(const std::string& text, const std::string& fixture,
                            const std::string& tokenizer_flags) {
  fs::path dir = mcpp::test::scratch_dir("fixture");
  auto result = mcpp::test::run(
      quoted(mcpp::test::program("preprocess")) + " --input " +
      quoted(mcpp::test::data_file("text/" + text + ".jsonl")) + " --output-prefix " +
      quoted(dir / "out") + " --append-eod --workers 2 --log-interval 100000 " + tokenizer_flags);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  for (const char* ext : {".idx", ".bin"}) {
    INFO(fixture << ext);
    const std::string ours = mcpp::test::read_file(dir / (std::string("out_text_document") + ext));
    const std::string megatron = mcpp::test::read_file(
        mcpp::test::data_file("fixtures/megatron/" + fixture + "_text_document" + ext));
    CHECK(ours.size() == megatron.size());
    CHECK(ours == megatron);
  }
}

}  // namespace

TEST_CASE("fixture: fortunes through GPT2BPETokenizer matches Megatron") {
  check_matches_megatron(
      "fortunes", "fortunes-gpt2",
      "--tokenizer-type GPT2BPETokenizer --vocab-file " +
          quoted(mcpp::test::data_file("tokenizers/gpt2/vocab.json")) + " --merge-file " +
          quoted(mcpp::test::data_file("tokenizers/gpt2/merges.txt")));
}

TEST_CASE("fixture: fortunes through HuggingFaceTokenizer (GPT-2) matches Megatron") {
  check_matches_megatron("fortunes", "fortunes-gpt2",
                         "--tokenizer-type HuggingFaceTokenizer --tokenizer-model " +
                             quoted(mcpp::test::data_file("tokenizers/gpt2")));
}

TEST_CASE("fixture: unicode-1 through HuggingFaceTokenizer (GPT-2) matches Megatron") {
  check_matches_megatron("unicode-1", "unicode-1-gpt2",
                         "--tokenizer-type HuggingFaceTokenizer --tokenizer-model " +
                             quoted(mcpp::test::data_file("tokenizers/gpt2")));
}

TEST_CASE("fixture: unicode-1 through GPT2BPETokenizer matches Megatron") {
  check_matches_megatron(
      "unicode-1", "unicode-1-gpt2",
      "--tokenizer-type GPT2BPETokenizer --vocab-file " +
          quoted(mcpp::test::data_file("tokenizers/gpt2/vocab.json")) + " --merge-file " +
          quoted(mcpp::test::data_file("tokenizers/gpt2/merges.txt")));
}

TEST_CASE("fixture: fortunes through the Llama-3 tokenizer matches Megatron (int32)") {
  check_matches_megatron("fortunes", "fortunes-llama3",
                         "--tokenizer-type HuggingFaceTokenizer --tokenizer-model " +
                             quoted(hf_directory("llama3")));
}

TEST_CASE("fixture: fortunes through the Qwen2.5 tokenizer matches Megatron (EOD <|im_end|>)") {
  check_matches_megatron("fortunes", "fortunes-qwen2.5",
                         "--tokenizer-type HuggingFaceTokenizer --tokenizer-model " +
                             quoted(hf_directory("qwen2.5")));
}
