// BigScience's BLOOM, as transformers' BloomModel runs it: token embeddings and a LayerNorm over
// them, no learned positions (every layer's attention adds ALiBi's bias), pre-LayerNorm blocks
// whose residual is the LayerNorm's output instead of its input when
// apply_residual_connection_post_layernorm is set, a tanh-GELU MLP, a final LayerNorm, and the LM
// head tied to the token embedding. lib/arch/bloom.ts reorders the head-interleaved fused q|k|v
// into GPT-2's layout at load.
#include "core/graphs/graphs.h"

namespace gpt {

namespace {

class BloomGraph final : public Graph {
 public:
  BloomGraph(const ModelConfig& c, WeightBinder& w) : c_(c), layers_(size_t(c.n_layer)) {
    const int64_t C = c.n_embd, F = c.n_inner;
    w.want(wte_, "word_embeddings.weight", {c.vocab_size, C});
    w.norm(lne_g_, lne_b_, "word_embeddings_layernorm", C);
    for (int64_t i = 0; i < c.n_layer; ++i) {
      const std::string p = "h." + std::to_string(i) + ".";
      Layer& L = layers_[size_t(i)];
      w.norm(L.ln1_g, L.ln1_b, p + "input_layernorm", C);
      w.linear(L.qkv_w, L.qkv_b, p + "self_attention.qkv", C, 3 * C);
      w.linear(L.dense_w, L.dense_b, p + "self_attention.dense", C, C);
      w.norm(L.ln2_g, L.ln2_b, p + "post_attention_layernorm", C);
      w.linear(L.up_w, L.up_b, p + "mlp.dense_h_to_4h", C, F);
      w.linear(L.down_w, L.down_b, p + "mlp.dense_4h_to_h", F, C);
    }
    w.norm(lnf_g_, lnf_b_, "ln_f", C);
  }

  void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) override {
    const int64_t C = c_.n_embd;
    const float eps = c_.layer_norm_epsilon;
    float* h = b.buffer(Slot::kNormed, size_t(rows * C));
    float* qkv = b.buffer(Slot::kQkv, size_t(rows * 3 * C));
    float* att = b.buffer(Slot::kAttention, size_t(rows * C));
    float* mlp = b.buffer(Slot::kMlp, size_t(rows * c_.n_inner));
    b.embed(tokens, rows, wte_, WeightView{}, x);
    b.layernorm(x, rows, lne_g_, lne_b_, eps, x);
    // With the residual taken after the LayerNorm, the LayerNorm writes the residual stream itself.
    float* normed = c_.residual_from_norm ? x : h;
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const Layer& L = layers_[size_t(l)];
      b.layernorm(x, rows, L.ln1_g, L.ln1_b, eps, normed);
      b.matmul(normed, rows, L.qkv_w, L.qkv_b, Epilogue::kStore, qkv);
      b.attention(l, qkv, rows, att);
      b.matmul(att, rows, L.dense_w, L.dense_b, Epilogue::kResidual, x);
      b.layernorm(x, rows, L.ln2_g, L.ln2_b, eps, normed);
      b.matmul(normed, rows, L.up_w, L.up_b, c_.activation, mlp);
      b.matmul(mlp, rows, L.down_w, L.down_b, Epilogue::kResidual, x);
    }
  }

  void head(Backend& b, const float* x, int64_t n, float* logits) override {
    float* h = b.buffer(Slot::kNormed, size_t(n * c_.n_embd));
    b.layernorm(x, n, lnf_g_, lnf_b_, c_.layer_norm_epsilon, h);
    b.lm_head(h, n, wte_, logits);
  }

 private:
  struct Layer {
    WeightView ln1_g, ln1_b, qkv_w, qkv_b, dense_w, dense_b, ln2_g, ln2_b, up_w, up_b, down_w, down_b;
  };
  const ModelConfig c_;
  WeightView wte_, lne_g_, lne_b_, lnf_g_, lnf_b_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Graph> bloom_graph(const ModelConfig& c, WeightBinder& w) { return std::make_unique<BloomGraph>(c, w); }

}  // namespace gpt
