#include "core/model/deferred_weight_grads.h"

#include "core/kernels/linear.h"

namespace mcpp::model {

void linear_backward_deferrable(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                const Tensor& dweight, const Tensor& dbias, DeferredWeightGrads* deferred) {
  if (!deferred || (!dweight.defined() && !dbias.defined())) {
    core::linear_backward(x, weight, dy, dx, dweight, dbias);
    return;
  }
  if (dx.defined()) core::linear_backward(x, weight, dy, dx, Tensor(), Tensor());
  deferred->add([x, weight, dy, dweight, dbias] { core::linear_backward(x, weight, dy, Tensor(), dweight, dbias); });
}

}  // namespace mcpp::model
