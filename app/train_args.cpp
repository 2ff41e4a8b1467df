#include "app/train_args.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "app/flags_registry.h"
#include "core/base/error.h"
#include "core/base/log.h"

namespace fs = std::filesystem;

namespace mcpp::app {

namespace {

struct GivenFlag {
  const FlagSpec* spec = nullptr;
  FlagValue value;
};

bool is_switch(const FlagSpec& s) { return s.kind == FlagKind::kStoreTrue || s.kind == FlagKind::kStoreFalse; }
bool is_list(const FlagSpec& s) {
  return s.kind == FlagKind::kStringList || s.kind == FlagKind::kIntList || s.kind == FlagKind::kFloatList;
}

const FlagSpec& lookup(const std::string& name, const std::string& where) {
  const FlagSpec* spec = find_flag(name);
  check(spec != nullptr, where + "unknown flag " + name + "; see docs/flags.md");
  return *spec;
}

// Rejected flags stop here; values are checked against the choices and (for typed lists) types.
void check_given(const GivenFlag& given, const std::string& where) {
  const FlagSpec& s = *given.spec;
  check(s.state != FlagState::kRejected, where + s.name + " is not supported: " + s.note + "; see docs/flags.md");
  if (s.at_least_one) check(!given.value.items.empty(), where + s.name + " expects at least one value");
  for (const std::string& item : given.value.items) {
    if (!s.choices.empty()) {
      bool known = false;
      std::string list;
      for (const auto& c : s.choices) {
        known |= item == c;
        list += (list.empty() ? "" : ", ") + c;
      }
      check(known, where + s.name + ": invalid choice '" + item + "' (choose from " + list + ")");
    }
    FlagValue one{s.name, {item}};
    if (s.kind == FlagKind::kInt || s.kind == FlagKind::kIntList) one.as_int();
    if (s.kind == FlagKind::kFloat || s.kind == FlagKind::kFloatList) one.as_double();
  }
}

std::vector<GivenFlag> flags_from_command_line(const std::vector<std::string>& args) {
  std::vector<GivenFlag> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& token = args[i];
    check(token.rfind("--", 0) == 0 && token.size() > 2,
          "unexpected argument '" + token + "'; every option is a --flag (see docs/flags.md)");
    const size_t eq = token.find('=');
    const std::string name = token.substr(0, eq);
    const FlagSpec& spec = lookup(name, "");
    GivenFlag given{&spec, FlagValue{spec.name, {}}};
    auto is_value = [&](size_t j) { return j < args.size() && args[j].rfind("--", 0) != 0; };
    if (is_switch(spec)) {
      check(eq == std::string::npos, name + " takes no value");
    } else if (eq != std::string::npos) {
      given.value.items.push_back(token.substr(eq + 1));
    } else if (is_list(spec)) {
      while (is_value(i + 1)) given.value.items.push_back(args[++i]);
    } else {
      check(is_value(i + 1), name + " expects a value");
      given.value.items.push_back(args[++i]);
    }
    check_given(given, "");
    out.push_back(std::move(given));
  }
  return out;
}

std::string scalar_text(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  check(v.is_number(), where + "expected a number or a string");
  return v.dump();
}

std::vector<GivenFlag> flags_from_config(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "--config " + path + ": cannot open the file");
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error("--config " + path + ": not valid JSON (" + e.what() + ")");
  }
  check(root.is_object(), "--config " + path + ": expected a JSON object of flag names to values");
  std::vector<GivenFlag> out;
  for (const auto& [key, v] : root.items()) {
    const std::string where = "--config " + path + ": ";
    const FlagSpec& spec = lookup("--" + key, where);
    check(spec.name != "--config", where + "a config file cannot name another --config");
    if (v.is_null()) continue;  // None: keep the default
    GivenFlag given{&spec, FlagValue{spec.name, {}}};
    const std::string entry = where + "\"" + key + "\": ";
    if (is_switch(spec)) {
      check(v.is_boolean(), entry + "expected true or false");
      if (!v.get<bool>()) continue;  // an absent switch
    } else if (is_list(spec)) {
      if (v.is_array()) {
        for (const auto& item : v) given.value.items.push_back(scalar_text(item, entry));
      } else {
        given.value.items.push_back(scalar_text(v, entry));
      }
    } else {
      check(!v.is_array() && !v.is_object() && !v.is_boolean(), entry + "expected one value");
      given.value.items.push_back(scalar_text(v, entry));
    }
    check_given(given, where);
    out.push_back(std::move(given));
  }
  return out;
}

void apply_flags(TrainArgs& args, const std::vector<GivenFlag>& flags) {
  for (const GivenFlag& given : flags) {
    const FlagSpec& s = *given.spec;
    if (s.state == FlagState::kNoEffect) {
      const std::string note = s.name + ": " + s.note;
      if (std::find(args.no_effect_notes.begin(), args.no_effect_notes.end(), note) == args.no_effect_notes.end()) {
        args.no_effect_notes.push_back(note);
      }
    } else if (s.set != nullptr) {
      s.set(args, given.value);
    }
  }
}

fs::path executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

}  // namespace

std::string resolve_config_path(const std::string& path_or_name) {
  const bool is_name = path_or_name.find('/') == std::string::npos &&
                       fs::path(path_or_name).extension() != ".json";
  if (!is_name) {
    check(fs::is_regular_file(path_or_name), "--config " + path_or_name + ": file not found");
    return path_or_name;
  }
  const fs::path candidates[] = {executable_dir() / ".." / ".." / "configs" / (path_or_name + ".json"),
                                 fs::current_path() / "configs" / (path_or_name + ".json")};
  for (const fs::path& candidate : candidates) {
    if (fs::is_regular_file(candidate)) return fs::weakly_canonical(candidate).string();
  }
  throw Error("--config " + path_or_name + ": no preset configs/" + path_or_name +
              ".json (looked next to the program and in the current directory); give a path to a JSON file");
}

TrainArgs parse_train_args(const std::vector<std::string>& argv_flags) {
  const std::vector<GivenFlag> command_line = flags_from_command_line(argv_flags);
  TrainArgs args;
  // The config file goes first so that every explicit flag overrides it.
  for (const GivenFlag& given : command_line) {
    if (given.spec->name == "--config") args.own.config = given.value.as_string();
  }
  if (args.own.config) apply_flags(args, flags_from_config(resolve_config_path(*args.own.config)));
  apply_flags(args, command_line);
  return args;
}

TrainArgs parse_train_args(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_train_args(args);
}

int64_t padded_vocab_size(int64_t vocab_size, int64_t divisible_by, int64_t tensor_parallel_size) {
  const int64_t multiple = divisible_by * tensor_parallel_size;
  return (vocab_size + multiple - 1) / multiple * multiple;
}

}  // namespace mcpp::app
