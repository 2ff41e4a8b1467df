#include "core/model/param_buffer.h"

#include "core/base/error.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#endif

namespace mcpp::model {

namespace {
int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }
}  // namespace

ParamBuffer::ParamBuffer(std::vector<ParamInfo> infos, DType param_dtype, Device device, int64_t align)
    : ParamBuffer(std::move(infos), param_dtype, device, BufferLayout{align, 0, 1, {}}) {}

ParamBuffer::ParamBuffer(std::vector<ParamInfo> infos, DType param_dtype, Device device, const BufferLayout& layout,
                         DType compute_dtype)
    : infos_(std::move(infos)), compute_dtype_(compute_dtype), device_(device) {
  check(layout.param_align >= 1 && layout.bucket_end_multiple >= 1 && layout.bucket_size >= 0,
        "internal: bad parameter buffer layout");
  const int n = size();
  params_.resize(n);
  grads_.resize(n);
  compute_params_.resize(n);
  group_of_.assign(n, -1);
  offset_of_.assign(n, 0);
  // Per group: where the next parameter may start and the bucket being filled.
  struct Filling {
    int64_t next = 0;
    Bucket bucket;
  };
  std::vector<Filling> filling;
  auto close_bucket = [&](int g, int64_t end) {
    Filling& f = filling[g];
    f.bucket.end = round_up(end, layout.bucket_end_multiple);
    f.next = f.bucket.end;
    groups_[g].buckets.push_back(std::move(f.bucket));
    f.bucket = Bucket{f.next, f.next, {}};
  };
  auto own_bucket = [&](const ParamInfo& info) {
    for (const auto& key : layout.own_bucket_keys)
      if (key == info.key) return true;
    return false;
  };
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
      filling.emplace_back();
    }
    const bool alone = own_bucket(info);
    if (alone && !filling[g].bucket.members.empty()) close_bucket(g, filling[g].next);
    Filling& f = filling[g];
    group_of_[i] = g;
    offset_of_[i] = round_up(f.next, layout.param_align);
    const int64_t end = offset_of_[i] + info.local_numel();
    groups_[g].members.push_back(i);
    f.bucket.members.push_back(i);
    if (alone || (layout.bucket_size > 0 && end - f.bucket.begin >= layout.bucket_size))
      close_bucket(g, end);
    else
      f.next = end;
  }
  std::vector<int64_t> group_numel(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!filling[g].bucket.members.empty()) close_bucket(static_cast<int>(g), filling[g].next);
    group_numel[g] = filling[g].next;
  }
  auto communicated = [&](int64_t numel, DType dtype) {
    return layout.allocate_communicated ? layout.allocate_communicated(numel, dtype)
                                        : Tensor::zeros({numel}, dtype, device);
  };
  const bool mixed = compute_dtype != param_dtype;
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamBufferGroup& group = groups_[g];
    group.params = mixed ? Tensor::zeros({group_numel[g]}, group.param_dtype, device)
                         : communicated(group_numel[g], group.param_dtype);
    group.grads = communicated(group_numel[g], group.grad_dtype);
    if (mixed) group.compute_params = communicated(group_numel[g], compute_dtype);
  }
  for (int i = 0; i < n; ++i) {
    const ParamBufferGroup& group = groups_[group_of_[i]];
    const Shape shape = infos_[i].local_tensor_shape();
    params_[i] = group.params.sub(offset_of_[i], shape);
    grads_[i] = group.grads.sub(offset_of_[i], shape);
    compute_params_[i] =
        group.compute_params.defined() ? group.compute_params.sub(offset_of_[i], shape) : params_[i];
  }
}

void ParamBuffer::sync_compute_params() {
#ifdef MCPP_HAVE_CUDA
  const profile::Scope timed("cast_main_params_to_compute");
#endif
  for (const auto& group : groups_)
    if (group.compute_params.defined()) group.compute_params.copy_from(group.params);
}

int ParamBuffer::index_of(const std::string& key) const {
  auto it = index_.find(key);
  check(it != index_.end(), "the model has no parameter " + key);
  return it->second;
}

ParamRef ParamBuffer::ref(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return {};
  return {compute_params_[it->second], grads_[it->second]};
}

void ParamBuffer::zero_grads() {
#ifdef MCPP_HAVE_CUDA
  const profile::Scope timed("zero_grads");
#endif
  for (auto& group : groups_) group.grads.fill(0.0);
}

int64_t ParamBuffer::total_numel() const {
  int64_t total = 0;
  for (const auto& info : infos_) total += info.local_numel();
  return total;
}

}  // namespace mcpp::model
