#pragma once
// Helpers for end-to-end megatron-train tests: a small preprocessed corpus of the shared fortunes
// text (GPT-2 tokenizer), flag sets for tiny models, and readers for the metrics file.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mcpp::test {

// <dir>/fortunes_text_document.{bin,idx}: the first `documents` fortunes, GPT-2 tokenizer, EOD
// appended. Built once per test process; returns the prefix.
std::string fortunes_gpt2_prefix();

// Flags of the GPT-2 tokenizer files (HuggingFaceTokenizer on the shared gpt2 directory).
std::string gpt2_tokenizer_flags();

// A tiny GPT-2 style model with the fortunes data, without iteration counts or outputs.
std::string tiny_gpt2_flags();

// A tiny Llama-style model (RMSNorm, SwiGLU, RoPE, GQA, no biases, untied).
std::string tiny_llama_flags();

// Runs megatron-train with `flags`, failing the test (with the output) on a non-zero exit.
std::string train_or_fail(const std::string& flags);

// lm_loss of every line of a --metrics-file.
std::vector<double> metrics_losses(const std::filesystem::path& metrics_file);

// Fails unless `losses` has as many entries as `expected`, each within relative `epsilon` of its
// counterpart (reported by iteration).
void check_losses_close(const std::vector<double>& losses, const std::vector<double>& expected, double epsilon);

// (lm_loss, or none for a skipped fp16 step; loss_scale) of every line of a --metrics-file.
std::vector<std::pair<std::optional<double>, double>> metrics_losses_and_scales(
    const std::filesystem::path& metrics_file);

}  // namespace mcpp::test
