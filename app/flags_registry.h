#pragma once
// The one list of every Megatron flag we know (compat reference §3) plus our own, with its type,
// Megatron's default and what megatron-train does with it: implemented, accepted without effect
// (it only tunes Megatron's own speed), or rejected with a reason. The parser, the config-file
// reader and docs/flags.md are all generated from this list, so they cannot drift apart.
#include <string>
#include <string_view>
#include <vector>

#include "app/train_args.h"

namespace mcpp::app {

enum class FlagKind { kStoreTrue, kStoreFalse, kInt, kFloat, kString, kStringList, kIntList, kFloatList };
enum class FlagState { kImplemented, kNoEffect, kRejected };

// The raw value(s) given for one flag, with the flag's name for error messages.
struct FlagValue {
  std::string_view flag;
  std::vector<std::string> items;  // empty for switches

  int64_t as_int() const;
  double as_double() const;
  const std::string& as_string() const;
};

using FlagSetter = void (*)(TrainArgs&, const FlagValue&);

struct FlagSpec {
  std::string name;           // "--num-layers"
  std::string group;          // section of docs/flags.md
  FlagKind kind = FlagKind::kStoreTrue;
  std::string default_text;   // Megatron's default as Python prints it ("None", "0.01", "False")
  FlagState state = FlagState::kImplemented;
  std::string note;           // what it does, or why it has no effect / is rejected
  std::vector<std::string> choices;  // empty: any value
  FlagSetter set = nullptr;          // implemented flags only
  bool at_least_one = false;         // nargs='+' (else lists are nargs='*')
  bool ours = false;                 // not a Megatron flag
  std::string alias_of;              // non-empty: another spelling of that flag
};

// Every known flag, in documentation order.
const std::vector<FlagSpec>& flag_registry();

// The spec for an exact name ("--lr"; no prefix matching), or nullptr.
const FlagSpec* find_flag(std::string_view name);

// "int", "float", "flag (store_true)", "str list (nargs=+)", ...
std::string kind_text(const FlagSpec& spec);

// The full text of docs/flags.md.
std::string flags_markdown();

}  // namespace mcpp::app
