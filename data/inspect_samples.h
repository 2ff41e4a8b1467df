#pragma once
// `inspect-data samples`: prints GPT samples exactly as Megatron's GPTDataset / BlendedDataset
// return them, from megatron-train's data and tokenizer flags (see data/gpt/sample_printer.h).

namespace mcpp::data {

// argv[0] is the sub-command name ("samples"); returns the process exit status.
int inspect_samples_main(int argc, char** argv);

}  // namespace mcpp::data
