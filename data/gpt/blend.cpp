#include "data/gpt/blend.h"

#include <cmath>
#include <cstdlib>

#include "core/base/error.h"

namespace mcpp::data {
namespace {

// Python's float(): surrounding whitespace allowed, the rest must be one number.
std::optional<double> parse_python_float(const std::string& text) {
  // strtod also reads hexadecimal floats, which Python's float() does not.
  if (text.find_first_of("xX") != std::string::npos) return std::nullopt;
  const char* begin = text.c_str();
  char* end = nullptr;
  double value = std::strtod(begin, &end);
  if (end == begin) return std::nullopt;
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') ++end;
  if (*end != '\0') return std::nullopt;
  return value;
}

std::string strip(const std::string& text) {
  const char* space = " \t\n\r\f\v";
  size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  size_t last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

}  // namespace

std::vector<double> normalize_weights(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  std::vector<double> normalised;
  normalised.reserve(weights.size());
  for (double w : weights) normalised.push_back(w / total);
  return normalised;
}

Blend parse_blend(const std::vector<std::string>& tokens, const std::string& flag) {
  check(!tokens.empty(), flag + " needs at least one dataset prefix");
  Blend blend;
  bool paired = false;
  if (tokens.size() % 2 == 0) {
    std::vector<double> weights;
    size_t numeric = 0;
    for (size_t i = 0; i < tokens.size(); i += 2) {
      if (auto w = parse_python_float(tokens[i])) {
        weights.push_back(*w);
        ++numeric;
      }
    }
    if (numeric == tokens.size() / 2) {
      paired = true;
      for (size_t i = 0; i < weights.size(); ++i) {
        check(std::isfinite(weights[i]) && weights[i] > 0,
              flag + ": weight '" + tokens[2 * i] + "' of '" + tokens[2 * i + 1] +
                  "' must be a positive number");
      }
      for (size_t i = 1; i < tokens.size(); i += 2) blend.prefixes.push_back(strip(tokens[i]));
      blend.weights = normalize_weights(weights);
    } else {
      check(numeric == 0, flag + ": mixes weighted and unweighted entries; give either "
                                 "'weight prefix' pairs or only prefixes");
    }
  }
  if (!paired) {
    for (const auto& token : tokens) blend.prefixes.push_back(strip(token));
  }
  for (const auto& prefix : blend.prefixes) {
    check(!prefix.empty(), flag + ": empty dataset prefix");
  }
  return blend;
}

}  // namespace mcpp::data
