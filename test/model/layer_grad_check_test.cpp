// Finite-difference checks of each layer's backward in fp32. Objective: f = Σ out·R (R fixed
// random, summed in double); the backward gets dy = R. A deterministic sample of input elements
// and of every parameter of the layer is perturbed by ±eps = 1e-2.
// Tolerance: |analytic − numeric| ≤ 5e-3 + 2e-2·|numeric|.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "core/model/attention_layer.h"
#include "core/model/embedding_layer.h"
#include "core/model/mlp_layer.h"
#include "core/model/norm_layer.h"
#include "core/model/tensor_layout.h"
#include "core/model/transformer_layer.h"
#include "model_test_util.h"

using namespace mcpp;
using namespace mcpp::model;
using namespace mcpp::model::testing;

namespace {

constexpr float kEps = 1e-2f;

double dot(const Tensor& out, const Tensor& r) {
  const float* a = out.data<float>();
  const float* b = r.data<float>();
  double sum = 0;
  for (int64_t i = 0; i < out.numel(); ++i) sum += double(a[i]) * double(b[i]);
  return sum;
}

void check_close(double analytic, double numeric, const std::string& what) {
  INFO(what << " analytic " << analytic << " numeric " << numeric);
  CHECK(std::abs(analytic - numeric) <= 5e-3 + 2e-2 * std::abs(numeric));
}

// Checks d f / d values for a sample of `values` elements, given the analytic gradient.
void check_elements(const std::function<double()>& objective, const Tensor& values,
                    const Tensor& analytic, const std::string& name, int samples = 8) {
  float* v = values.data<float>();
  const float* g = analytic.data<float>();
  const int64_t n = values.numel();
  for (int k = 0; k < std::min<int64_t>(samples, n); ++k) {
    const int64_t i = (int64_t(k) * 7919 + 13) % n;
    const float saved = v[i];
    v[i] = saved + kEps;
    const double plus = objective();
    v[i] = saved - kEps;
    const double minus = objective();
    v[i] = saved;
    check_close(g[i], (plus - minus) / (2.0 * kEps), name + "[" + std::to_string(i) + "]");
  }
}

// Runs forward/backward of a layer on x and checks input and parameter gradients.
template <typename Layer>
void check_layer(Layer& layer, const std::function<Tensor(Layer&, const Tensor&)>& forward,
                 const Tensor& x, const ParamBuffer& params, const std::string& key_filter) {
  Tensor out = forward(layer, x);
  const Tensor r = random_tensor(out.shape(), 1.0f, 42);
  for (const auto& group : params.groups()) group.grads.fill(0.0);
  const Tensor dx = layer.backward(r);
  const std::function<double()> objective = [&] { return dot(forward(layer, x), r); };
  check_elements(objective, x, dx, "input");
  for (int p = 0; p < params.size(); ++p) {
    if (params.info(p).key.find(key_filter) == std::string::npos) continue;
    const Tensor grad = Tensor::empty(params.grad(p).shape());
    grad.copy_from(params.grad(p));
    check_elements(objective, params.param(p), grad, params.info(p).key);
  }
}

struct Fixture {
  explicit Fixture(ModelConfig c) : config(c), parallel(ParallelContext::single(comm)), model(c, parallel) {
    randomize_parameters(model.params(), 3);
  }
  ModelConfig config;
  comm::SingleRankCommunicator comm;
  ParallelContext parallel;
  GPTModel model;
  DropoutState dropout;
  Tensor x() const { return random_tensor({config.seq_length, 2, config.hidden}, 1.0f, 9); }
};

Tensor two_documents(int64_t b, int64_t s) {
  Tensor offsets = Tensor::empty({b, 3}, DType::I64);
  int64_t* o = offsets.data<int64_t>();
  for (int64_t r = 0; r < b; ++r) {
    o[r * 3] = 0;
    o[r * 3 + 1] = 3 + r;
    o[r * 3 + 2] = s;
  }
  return offsets;
}

}  // namespace

TEST_CASE("norm layers: gradients match finite differences") {
  for (ModelConfig config : {gpt2_config(), llama_config()}) {
    Fixture f(config);
    const ParamBuffer& p = f.model.params();
    NormLayer norm(config, p.ref("decoder.layers.1.pre_mlp_layernorm.weight"),
                   p.ref("decoder.layers.1.pre_mlp_layernorm.bias"));
    check_layer<NormLayer>(norm, [](NormLayer& l, const Tensor& x) { return l.forward(x); }, f.x(), p,
                           "layers.1.pre_mlp_layernorm");
  }
}

TEST_CASE("attention layer: gradients match finite differences (MHA+bias, GQA+RoPE, documents)") {
  for (ModelConfig config : {gpt2_config(), llama_config()}) {
    for (bool documents : {false, true}) {
      Fixture f(config);
      const ParamBuffer& p = f.model.params();
      const std::string a = "decoder.layers.0.self_attention.";
      AttentionLayer attention(config, f.parallel, 0,
                               {p.ref(a + "linear_qkv.weight"), p.ref(a + "linear_qkv.bias"),
                                p.ref(a + "linear_proj.weight"), p.ref(a + "linear_proj.bias")});
      const Tensor docs = documents ? two_documents(2, config.seq_length) : Tensor();
      check_layer<AttentionLayer>(
          attention, [&](AttentionLayer& l, const Tensor& x) { return l.forward(x, docs, f.dropout); }, f.x(),
          p, "layers.0.self_attention");
    }
  }
}

TEST_CASE("MLP layer: gradients match finite differences (GELU+bias, SwiGLU)") {
  for (ModelConfig config : {gpt2_config(), llama_config()}) {
    Fixture f(config);
    const ParamBuffer& p = f.model.params();
    const std::string m = "decoder.layers.1.mlp.";
    MlpLayer mlp(config, f.parallel,
                 {p.ref(m + "linear_fc1.weight"), p.ref(m + "linear_fc1.bias"), p.ref(m + "linear_fc2.weight"),
                  p.ref(m + "linear_fc2.bias")});
    check_layer<MlpLayer>(mlp, [](MlpLayer& l, const Tensor& x) { return l.forward(x); }, f.x(), p,
                          "layers.1.mlp");
  }
}

TEST_CASE("transformer layer: gradients match finite differences, with dropout") {
  for (ModelConfig config : {gpt2_config(), llama_config()}) {
    config.hidden_dropout = 0.25;
    config.attention_dropout = 0.25;
    Fixture f(config);
    f.dropout.step = 3;
    TransformerLayer layer(config, f.parallel, f.model.params(), 1);
    check_layer<TransformerLayer>(
        layer, [&](TransformerLayer& l, const Tensor& x) { return l.forward(x, Tensor(), f.dropout); }, f.x(),
        f.model.params(), "decoder.layers.1.");
  }
}

TEST_CASE("embedding layer: table gradients match finite differences") {
  for (ModelConfig config : {gpt2_config(), llama_config()}) {
    config.hidden_dropout = 0.25;
    Fixture f(config);
    const ParamBuffer& p = f.model.params();
    EmbeddingLayer embedding(config, f.parallel, p.ref("embedding.word_embeddings.weight"),
                             p.ref("embedding.position_embeddings.weight"));
    // Token ids index the table: the "input" of this check is the embedding table itself.
    const Tensor tokens = to_sequence_first(random_tokens(2, config.seq_length, config.padded_vocab_size, 3));
    Tensor out = embedding.forward(tokens, Tensor(), f.dropout);
    const Tensor r = random_tensor(out.shape(), 1.0f, 42);
    f.model.zero_grads();
    embedding.backward(r);
    const std::function<double()> objective = [&] { return dot(embedding.forward(tokens, Tensor(), f.dropout), r); };
    for (int i = 0; i < p.size(); ++i)
      if (p.info(i).key.rfind("embedding.", 0) == 0) {
        // Sample rows that are looked up: row = a token id (or a position).
        const Tensor grad = Tensor::empty(p.grad(i).shape());
        grad.copy_from(p.grad(i));
        check_elements(objective, p.param(i), grad, p.info(i).key, 40);
      }
  }
}
