#include "data/tokenizers/load_gpt2_bpe.h"

#include "core/base/error.h"
#include "data/tokenizers/tokenizer_files.h"

namespace mcpp::data {

BpePipeline load_gpt2_bpe_tokenizer(const std::string& vocab_file, const std::string& merge_file) {
  check(!vocab_file.empty(), "GPT2BPETokenizer needs --vocab-file (GPT-2's vocab.json)");
  check(!merge_file.empty(), "GPT2BPETokenizer needs --merge-file (GPT-2's merges.txt)");

  nlohmann::json vocab_json = read_tokenizer_json(vocab_file, "--vocab-file");
  check(vocab_json.is_object(),
        vocab_file + ": not a JSON object of token -> id; pass GPT-2's vocab.json");
  BpeModel::Vocab vocab;
  vocab.reserve(vocab_json.size());
  for (auto it = vocab_json.begin(); it != vocab_json.end(); ++it) {
    check(it.value().is_number_integer(),
          vocab_file + ": the id of '" + it.key() + "' is not an integer; pass GPT-2's vocab.json");
    vocab.emplace_back(it.key(), it.value().get<int32_t>());
  }

  // merges.txt: an optional "#version" header, then one "left right" pair a line.
  std::string text = read_tokenizer_file(merge_file, "--merge-file");
  BpeModel::Merges merges;
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.starts_with("#version"))) continue;
    size_t space = line.find(' ');
    check(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
              line.find(' ', space + 1) == std::string_view::npos,
          merge_file + ":" + std::to_string(line_number) +
              ": expected two tokens separated by one space; pass GPT-2's merges.txt");
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }

  BpePipeline p;
  BpeModelOptions options;
  options.byte_level = true;
  p.model = std::make_unique<BpeModel>(vocab, merges, options, merge_file);
  PreTokenizeStep split;
  split.pattern = SplitPattern::compile(gpt2_split_regex());
  p.pre_tokenizers.push_back(std::move(split));
  p.decoder.add({DecodeStep::Kind::kByteLevel, "", ""});

  const std::string end_of_text = "<|endoftext|>";
  int32_t eod = p.model->id_of(end_of_text);
  check(eod >= 0, vocab_file + ": no '<|endoftext|>' token, which GPT2BPETokenizer uses as "
                               "end-of-document; pass GPT-2's vocab.json");
  p.added_tokens.push_back({end_of_text, eod, false});
  p.eod = eod;
  p.vocab_size = p.model->size();
  // Shaped like Megatron's tokenizer.unique_identifiers.
  p.description =
      nlohmann::json{{"class", "GPT2BPETokenizer"}, {"tokenizer_path", nlohmann::json::array({vocab_file, merge_file})}}.dump();
  return p;
}

}  // namespace mcpp::data
