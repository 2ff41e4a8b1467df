#pragma once
// Parameters and their gradients in contiguous buffers, as Megatron's DDP lays them out
// (param_and_grad_buffer.py): one param buffer and one fp32 grad buffer per group of
// (param dtype, grad dtype, is_expert), parameters placed in REVERSE registration order (about
// the order gradients become ready in backward). Every parameter and gradient is a Tensor view
// into its group's buffer, so data-parallel buckets and distributed-optimizer shards are further
// views of the same memory.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/base/tensor.h"
#include "core/model/param_info.h"

namespace mcpp::model {

// A parameter as a layer sees it: its values in the compute dtype and its fp32 gradient
// accumulator (both views into the buffers). Undefined tensors stand for an absent parameter
// (e.g. no bias).
struct ParamRef {
  Tensor value;
  Tensor grad;
  bool defined() const { return value.defined(); }
};

// How parameters are placed in a group's buffer and cut into data-parallel buckets (Megatron's
// _ParamAndGradBuffer; compat §6.1). The defaults give one unpadded bucket per group.
struct BufferLayout {
  int64_t param_align = 1;          // every parameter starts at a multiple (64 with the distributed optimizer)
  int64_t bucket_size = 0;          // close a bucket once it holds >= this many elements; 0 = no limit
  int64_t bucket_end_multiple = 1;  // pad each bucket's end to a multiple (lcm(dp, 128) with dist-opt)
  std::vector<std::string> own_bucket_keys;  // parameters that get a bucket of their own
  // Allocates the zeroed buffers that data parallelism reduces and gathers in bulk: the
  // gradients, and the parameter copy the layers read (the compute copy, else the main
  // parameters). Unset: ordinary tensors. The trainer passes the data-parallel communicator's
  // collective_buffer.
  std::function<Tensor(int64_t numel, DType dtype)> allocate_communicated;
};

// Elements [begin, end) of a group's buffers (end includes the bucket's padding) and the
// parameters inside, in layout order.
struct Bucket {
  int64_t begin = 0;
  int64_t end = 0;
  std::vector<int> members;
  int64_t numel() const { return end - begin; }
};

struct ParamBufferGroup {
  DType param_dtype = DType::F32;
  DType grad_dtype = DType::F32;
  bool is_expert = false;
  Tensor params;             // flat [numel]: the main (fp32) parameters the optimizer updates
  Tensor grads;              // flat [numel]
  // Mixed precision (Megatron's --bf16): the layers' copy of `params` in the compute dtype,
  // refreshed by ParamBuffer::sync_compute_params() after every update. Undefined when the
  // compute dtype is the parameter dtype (the layers then read `params` directly).
  Tensor compute_params;
  std::vector<int> members;  // parameter indices in layout order (reverse registration)
  std::vector<Bucket> buckets;  // consecutive, covering the whole buffer
};

class ParamBuffer {
 public:
  // `align` rounds every parameter's start up to a multiple of that many elements (Megatron's
  // distributed optimizer uses 64; plain DDP 1). Padding elements are zero.
  ParamBuffer(std::vector<ParamInfo> infos, DType param_dtype, Device device, int64_t align = 1);
  // `compute_dtype` other than `param_dtype` gives every group a compute copy (mixed precision).
  ParamBuffer(std::vector<ParamInfo> infos, DType param_dtype, Device device, const BufferLayout& layout,
              DType compute_dtype = DType::F32);

  int size() const { return static_cast<int>(infos_.size()); }
  const ParamInfo& info(int index) const { return infos_[index]; }
  const Tensor& param(int index) const { return params_[index]; }
  const Tensor& grad(int index) const { return grads_[index]; }
  // Index of the parameter with this state-dict key; throws when there is none.
  int index_of(const std::string& key) const;
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  const Tensor& param(const std::string& key) const { return params_[index_of(key)]; }
  const Tensor& grad(const std::string& key) const { return grads_[index_of(key)]; }

  // The parameter with this key as the layers use it (compute-dtype values, fp32 gradient), or
  // an undefined ParamRef when the model has none.
  ParamRef ref(const std::string& key) const;
  // The compute-dtype view of parameter `index` (the main parameter without mixed precision).
  const Tensor& compute_param(int index) const { return compute_params_[index]; }
  DType compute_dtype() const { return compute_dtype_; }
  Device device() const { return device_; }
  // Copies the main parameters into the compute copies (after an optimizer step or a load).
  void sync_compute_params();

  const std::vector<ParamBufferGroup>& groups() const { return groups_; }
  int group_of(int index) const { return group_of_[index]; }
  // Element offset of the parameter inside its group's buffers.
  int64_t offset_of(int index) const { return offset_of_[index]; }

  void zero_grads();
  int64_t total_numel() const;  // parameters only, without padding

 private:
  std::vector<ParamInfo> infos_;
  std::vector<Tensor> params_, grads_, compute_params_;
  DType compute_dtype_ = DType::F32;
  Device device_ = Device::CPU;
  std::vector<int> group_of_;
  std::vector<int64_t> offset_of_;
  std::vector<ParamBufferGroup> groups_;
  std::map<std::string, int> index_;
};

// Fills every parameter with Megatron's initial values (param_init.cpp).
void initialize_parameters(const ParamBuffer& buffer, uint64_t seed);

}  // namespace mcpp::model
