#include "core/model/param_buffer.h"

#include "core/base/error.h"

namespace mcpp::model {

namespace {
Shape to_shape(const std::vector<int64_t>& dims) {
  Shape shape;
  for (int64_t d : dims) shape.push_back(d);
  return shape;
}
int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }
}  // namespace

ParamBuffer::ParamBuffer(std::vector<ParamInfo> infos, DType param_dtype, Device device, int64_t align)
    : infos_(std::move(infos)) {
  check(align >= 1, "parameter buffer alignment must be at least 1 element");
  const int n = size();
  params_.resize(n);
  grads_.resize(n);
  group_of_.assign(n, -1);
  offset_of_.assign(n, 0);
  std::vector<int64_t> group_numel;
  // Walk in reverse registration order: that is the layout order inside each group.
  for (int i = n - 1; i >= 0; --i) {
    const ParamInfo& info = infos_[i];
    check(index_.emplace(info.key, i).second, "duplicate parameter key " + info.key);
    int g = 0;
    for (; g < static_cast<int>(groups_.size()); ++g)
      if (groups_[g].is_expert == info.is_expert) break;
    if (g == static_cast<int>(groups_.size())) {
      ParamBufferGroup group;
      group.param_dtype = param_dtype;
      group.grad_dtype = DType::F32;  // fp32 gradient accumulation (Megatron's default)
      group.is_expert = info.is_expert;
      groups_.push_back(group);
      group_numel.push_back(0);
    }
    group_of_[i] = g;
    offset_of_[i] = round_up(group_numel[g], align);
    group_numel[g] = offset_of_[i] + info.local_numel();
    groups_[g].members.push_back(i);
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].params = Tensor::zeros({group_numel[g]}, groups_[g].param_dtype, device);
    groups_[g].grads = Tensor::zeros({group_numel[g]}, groups_[g].grad_dtype, device);
  }
  for (int i = 0; i < n; ++i) {
    const ParamBufferGroup& group = groups_[group_of_[i]];
    const Shape shape = to_shape(infos_[i].local_shape);
    params_[i] = group.params.sub(offset_of_[i], shape);
    grads_[i] = group.grads.sub(offset_of_[i], shape);
  }
}

int ParamBuffer::index_of(const std::string& key) const {
  auto it = index_.find(key);
  check(it != index_.end(), "the model has no parameter " + key);
  return it->second;
}

ParamRef ParamBuffer::ref(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return {};
  return {params_[it->second], grads_[it->second]};
}

void ParamBuffer::zero_grads() {
  for (auto& group : groups_) group.grads.fill(0.0);
}

int64_t ParamBuffer::total_numel() const {
  int64_t total = 0;
  for (const auto& info : infos_) total += info.local_numel();
  return total;
}

}  // namespace mcpp::model
