#include "data/tokenizers/load_hugging_face.h"

#include <filesystem>
#include <unordered_set>

#include "core/base/error.h"
#include "data/tokenizers/tokenizer_files.h"

namespace mcpp::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Builds the pipeline from tokenizer.json; `where` prefixes every message.
class Loader {
 public:
  explicit Loader(std::string where) : where_(std::move(where)) {}

  [[noreturn]] void unsupported(const std::string& what) const {
    throw Error(where_ + ": " + what +
                " is not supported; supported are BPE models with NFC/Prepend/Replace "
                "normalizers, ByteLevel/Split pre-tokenizers and TemplateProcessing");
  }

  std::string type_of(const json& j) const {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
      throw Error(where_ + ": a component without a \"type\"; pass an intact tokenizer.json");
    return j["type"].get<std::string>();
  }

  // {"String": s} patterns only: a regex Replace would need a regex engine of its own.
  std::string string_pattern(const json& j, const std::string& component) const {
    if (j.contains("pattern") && j["pattern"].contains("String"))
      return j["pattern"]["String"].get<std::string>();
    unsupported(component + " with a regex pattern");
  }

  void normalizer(const json& j, BpePipeline& p) const {
    if (j.is_null()) return;
    std::string type = type_of(j);
    if (type == "Sequence") {
      for (const json& n : j.at("normalizers")) normalizer(n, p);
    } else if (type == "NFC") {
      p.normalizers.push_back({NormalizeStep::Kind::kNfc, "", ""});
    } else if (type == "Prepend") {
      p.normalizers.push_back({NormalizeStep::Kind::kPrepend, j.at("prepend").get<std::string>(), ""});
    } else if (type == "Replace") {
      p.normalizers.push_back({NormalizeStep::Kind::kReplace, string_pattern(j, "Replace normalizer"),
                               j.at("content").get<std::string>()});
    } else {
      unsupported("normalizer \"" + type + "\"");
    }
  }

  void pre_tokenizer(const json& j, BpePipeline& p, bool& byte_level) const {
    if (j.is_null()) return;
    std::string type = type_of(j);
    if (byte_level) unsupported("a pre-tokenizer after ByteLevel");
    if (type == "Sequence") {
      for (const json& t : j.at("pretokenizers")) pre_tokenizer(t, p, byte_level);
    } else if (type == "ByteLevel") {
      PreTokenizeStep step;
      step.add_prefix_space = j.value("add_prefix_space", true);
      if (j.value("use_regex", true)) step.pattern = SplitPattern::compile(gpt2_split_regex());
      p.pre_tokenizers.push_back(std::move(step));
      byte_level = true;
    } else if (type == "Split") {
      if (j.value("behavior", "") != "Isolated") unsupported("Split behavior \"" + j.value("behavior", "") + "\"");
      if (j.value("invert", false)) unsupported("Split with invert");
      const json& pattern = j.at("pattern");
      if (!pattern.contains("Regex")) unsupported("Split with a String pattern");
      PreTokenizeStep step;
      step.pattern = SplitPattern::compile(pattern["Regex"].get<std::string>());
      p.pre_tokenizers.push_back(std::move(step));
    } else {
      unsupported("pre-tokenizer \"" + type + "\"");
    }
  }

  // The ids of special token `name` of a TemplateProcessing.
  std::vector<int32_t> template_ids(const json& special_tokens, const std::string& name) const {
    if (!special_tokens.contains(name))
      throw Error(where_ + ": post_processor names special token '" + name +
                  "' missing from its special_tokens; pass an intact tokenizer.json");
    return special_tokens[name].at("ids").get<std::vector<int32_t>>();
  }

  void post_processor(const json& j, BpePipeline& p) const {
    if (j.is_null()) return;
    std::string type = type_of(j);
    if (type == "Sequence") {
      for (const json& q : j.at("processors")) post_processor(q, p);
    } else if (type == "ByteLevel") {
      // Only adjusts offsets; ids are unchanged.
    } else if (type == "TemplateProcessing") {
      bool seen_sequence = false;
      for (const json& item : j.at("single")) {
        if (item.contains("Sequence")) {
          if (item["Sequence"].at("id").get<std::string>() != "A")
            unsupported("TemplateProcessing single template with sequence B");
          seen_sequence = true;
        } else if (item.contains("SpecialToken")) {
          auto ids = template_ids(j.at("special_tokens"), item["SpecialToken"].at("id").get<std::string>());
          auto& target = seen_sequence ? p.suffix_ids : p.prefix_ids;
          target.insert(target.end(), ids.begin(), ids.end());
        } else {
          unsupported("TemplateProcessing item " + item.dump());
        }
      }
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
      p.prefix_ids.push_back(j.at("cls").at(1).get<int32_t>());
      p.suffix_ids.push_back(j.at("sep").at(1).get<int32_t>());
    } else {
      unsupported("post_processor \"" + type + "\"");
    }
  }

  void decoder(const json& j, Decoder& d) const {
    if (j.is_null()) return;
    std::string type = type_of(j);
    if (type == "Sequence") {
      for (const json& s : j.at("decoders")) decoder(s, d);
    } else if (type == "ByteLevel") {
      d.add({DecodeStep::Kind::kByteLevel, "", ""});
    } else if (type == "ByteFallback") {
      d.add({DecodeStep::Kind::kByteFallback, "", ""});
    } else if (type == "Fuse") {
      d.add({DecodeStep::Kind::kFuse, "", ""});
    } else if (type == "Replace") {
      d.add({DecodeStep::Kind::kReplace, string_pattern(j, "Replace decoder"),
             j.at("content").get<std::string>()});
    } else if (type == "Strip") {
      d.add({DecodeStep::Kind::kStrip, "", j.at("content").get<std::string>(),
             j.value("start", size_t(0)), j.value("stop", size_t(0))});
    } else {
      // Encoding does not need the decoder: fail only when decoding is asked for.
      d.set_unsupported(where_ + ": decoder \"" + type +
                        "\" is not supported; decoding needs ByteLevel, Replace, ByteFallback, "
                        "Fuse or Strip decoders");
    }
  }

  std::unique_ptr<BpeModel> model(const json& j, bool byte_level) const {
    std::string type = type_of(j);
    if (type != "BPE") unsupported("model type \"" + type + "\"");
    if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() != 0.0)
      unsupported("BPE dropout");
    for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (j.contains(affix) && !j[affix].is_null() && !j[affix].get<std::string>().empty())
        unsupported(std::string("BPE ") + affix);
    }
    BpeModel::Vocab vocab;
    const json& v = j.at("vocab");
    if (!v.is_object()) throw Error(where_ + ": model.vocab is not an object; pass an intact tokenizer.json");
    vocab.reserve(v.size());
    for (auto it = v.begin(); it != v.end(); ++it) vocab.emplace_back(it.key(), it.value().get<int32_t>());

    BpeModel::Merges merges;
    const json& m = j.at("merges");
    merges.reserve(m.size());
    for (const json& merge : m) {
      if (merge.is_array() && merge.size() == 2) {
        merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else if (merge.is_string()) {
        const std::string& s = merge.get_ref<const std::string&>();
        size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
          throw Error(where_ + ": merge " + std::to_string(merges.size() + 1) + " '" + s +
                      "' is not two tokens separated by one space; pass an intact tokenizer.json");
        merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else {
        throw Error(where_ + ": merge " + std::to_string(merges.size() + 1) +
                    " is neither \"a b\" nor [\"a\", \"b\"]; pass an intact tokenizer.json");
      }
    }

    BpeModelOptions options;
    options.byte_level = byte_level;
    options.byte_fallback = j.value("byte_fallback", false);
    options.ignore_merges = j.value("ignore_merges", false);
    options.fuse_unk = j.value("fuse_unk", false);
    if (j.contains("unk_token") && !j["unk_token"].is_null()) options.unk_token = j["unk_token"].get<std::string>();
    return std::make_unique<BpeModel>(vocab, merges, options, where_);
  }

  void added_tokens(const json& j, BpePipeline& p) const {
    if (j.is_null()) return;
    for (const json& t : j) {
      std::string content = t.at("content").get<std::string>();
      for (const char* flag : {"single_word", "lstrip", "rstrip"})
        if (t.value(flag, false)) unsupported(std::string("added token '") + content + "' with " + flag);
      p.added_tokens.push_back({content, t.at("id").get<int32_t>(), t.value("normalized", false)});
    }
  }

 private:
  std::string where_;
};

// A token string of tokenizer_config.json: "…" or {"content": "…"}.
std::optional<std::string> config_token(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
  return std::nullopt;
}

int32_t token_id(const BpePipeline& p, const std::string& token) {
  for (const AddedToken& t : p.added_tokens)
    if (t.content == token) return t.id;
  return p.model->id_of(token);
}

}  // namespace

BpePipeline load_hugging_face_tokenizer(const std::string& tokenizer_model) {
  const std::string flag = "--tokenizer-model";
  check(!tokenizer_model.empty(), "HuggingFaceTokenizer needs --tokenizer-model (a directory with tokenizer.json, or the file)");
  fs::path json_path = tokenizer_model;
  std::error_code ec;
  if (fs::is_directory(json_path, ec)) {
    json_path /= "tokenizer.json";
    check(fs::is_regular_file(json_path, ec),
          flag + " " + tokenizer_model + ": no tokenizer.json in this directory; pass a Hugging Face tokenizer directory or its tokenizer.json");
  }
  fs::path config_path = json_path.parent_path() / "tokenizer_config.json";

  json j = read_tokenizer_json(json_path, flag);
  const std::string where = json_path.string();
  Loader loader(where);
  BpePipeline p;
  try {
    check(j.is_object() && j.contains("model"), where + ": no \"model\"; is this a Hugging Face tokenizer.json?");
    loader.added_tokens(j.value("added_tokens", json()), p);
    loader.normalizer(j.value("normalizer", json()), p);
    bool byte_level = false;
    loader.pre_tokenizer(j.value("pre_tokenizer", json()), p, byte_level);
    p.model = loader.model(j["model"], byte_level);
    loader.post_processor(j.value("post_processor", json()), p);
    loader.decoder(j.value("decoder", json()), p.decoder);
  } catch (const json::exception& e) {
    throw Error(where + ": malformed tokenizer.json (" + e.what() + "); pass an intact file");
  }

  // len(tokenizer): the vocabulary plus added tokens that are not already in it.
  std::unordered_set<std::string> extra;
  for (const AddedToken& t : p.added_tokens)
    if (p.model->id_of(t.content) < 0) extra.insert(t.content);
  p.vocab_size = p.model->size() + int64_t(extra.size());
  for (const AddedToken& t : p.added_tokens)
    check(t.id >= 0, where + ": added token '" + t.content + "' has a negative id; pass an intact file");

  if (fs::is_regular_file(config_path, ec)) {
    json config = read_tokenizer_json(config_path, flag);
    auto resolve = [&](const char* key) -> std::optional<int32_t> {
      std::optional<std::string> token = config_token(config, key);
      if (!token) return std::nullopt;
      int32_t id = token_id(p, *token);
      check(id >= 0, config_path.string() + ": " + key + " '" + *token +
                         "' is not a token of " + where + "; fix tokenizer_config.json");
      return id;
    };
    p.eod = resolve("eos_token");
    p.pad = resolve("pad_token");
    if (!p.eod)
      p.eod_missing_message = config_path.string() +
                              ": no eos_token, so there is no end-of-document id; add eos_token to it";
  } else {
    p.eod_missing_message = flag + " " + tokenizer_model +
                            ": no tokenizer_config.json next to tokenizer.json, so there is no "
                            "eos_token for the end-of-document id; add it";
  }
  // Shaped like Megatron's tokenizer.unique_identifiers.
  p.description = json{{"class", "HuggingFaceTokenizer"}, {"tokenizer_path", json::array({tokenizer_model})}}.dump();
  return p;
}

}  // namespace mcpp::data
