#include "data/gpt/sample.h"

namespace mcpp::data {

Sample make_sample(std::vector<int32_t> raw_text, const SampleOptions& options) {
  Sample sample;
  const size_t L = raw_text.size() - 1;
  sample.loss_mask.assign(L, 1.0f);
  sample.position_ids.resize(L);
  if (options.reset_attention_mask) sample.document_offsets.push_back(0);
  int32_t document_start = 0;
  for (size_t i = 0; i < L; ++i) {
    const int32_t token = raw_text[i];
    const int32_t label = raw_text[i + 1];
    sample.position_ids[i] = options.reset_position_ids ? static_cast<int32_t>(i) - document_start
                                                        : static_cast<int32_t>(i);
    if (options.eod_mask_loss && token == options.eod_id) sample.loss_mask[i] = 0.0f;
    if (label == options.pad_id) sample.loss_mask[i] = 0.0f;
    // An EOD input ends its document: the next position starts a new one (none after the last).
    if (token == options.eod_id && i + 1 < L) {
      document_start = static_cast<int32_t>(i + 1);
      if (options.reset_attention_mask) sample.document_offsets.push_back(document_start);
    }
  }
  if (options.reset_attention_mask) sample.document_offsets.push_back(static_cast<int32_t>(L));
  for (int32_t& id : raw_text) {
    if (id == options.pad_id) id = 0;
  }
  sample.text = std::move(raw_text);
  return sample;
}

}  // namespace mcpp::data
