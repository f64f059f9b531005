// GPT-2, and GPT-Neo (whose checkpoints lib/arch/gpt-neo.ts lays out as GPT-2's at load: fused
// q|k|v, [in, out] matrices; its unscaled scores and local windows are its layers'
// AttentionSpec): token and learned position embeddings added, pre-LayerNorm blocks (attention,
// then the MLP, each added to the residual stream), a final LayerNorm, and the LM head tied to
// the token embedding.
#include "core/graphs/graphs.h"

namespace gpt {

namespace {

class Gpt2Graph final : public Graph {
 public:
  Gpt2Graph(const ModelConfig& c, WeightBinder& w) : c_(c), layers_(size_t(c.n_layer)) {
    const int64_t C = c.n_embd, F = c.n_inner;
    w.want(wte_, "wte.weight", {c.vocab_size, C});
    w.want(wpe_, "wpe.weight", {c.n_ctx, C});
    for (int64_t i = 0; i < c.n_layer; ++i) {
      const std::string p = "h." + std::to_string(i) + ".";
      Layer& L = layers_[size_t(i)];
      w.norm(L.ln1_g, L.ln1_b, p + "ln_1", C);
      w.linear(L.attn_w, L.attn_b, p + "attn.c_attn", C, 3 * C);
      w.linear(L.proj_w, L.proj_b, p + "attn.c_proj", C, C);
      w.norm(L.ln2_g, L.ln2_b, p + "ln_2", C);
      w.linear(L.fc_w, L.fc_b, p + "mlp.c_fc", C, F);
      w.linear(L.fc_proj_w, L.fc_proj_b, p + "mlp.c_proj", F, C);
    }
    w.norm(lnf_g_, lnf_b_, "ln_f", C);
  }

  void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) override {
    const int64_t C = c_.n_embd;
    float* h = b.buffer(Slot::kNormed, size_t(rows * C));
    float* qkv = b.buffer(Slot::kQkv, size_t(rows * 3 * C));
    float* att = b.buffer(Slot::kAttention, size_t(rows * C));
    float* mlp = b.buffer(Slot::kMlp, size_t(rows * c_.n_inner));
    b.embed(tokens, rows, wte_, wpe_, x);
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const Layer& L = layers_[size_t(l)];
      b.layernorm(x, rows, L.ln1_g, L.ln1_b, c_.layer_norm_epsilon, h);
      b.matmul(h, rows, L.attn_w, L.attn_b, Epilogue::kStore, qkv);
      b.attention(l, qkv, rows, att);
      b.matmul(att, rows, L.proj_w, L.proj_b, Epilogue::kResidual, x);
      b.layernorm(x, rows, L.ln2_g, L.ln2_b, c_.layer_norm_epsilon, h);
      b.matmul(h, rows, L.fc_w, L.fc_b, c_.activation, mlp);
      b.matmul(mlp, rows, L.fc_proj_w, L.fc_proj_b, Epilogue::kResidual, x);
    }
  }

  void head(Backend& b, const float* x, int64_t n, float* logits) override {
    float* h = b.buffer(Slot::kNormed, size_t(n * c_.n_embd));
    b.layernorm(x, n, lnf_g_, lnf_b_, c_.layer_norm_epsilon, h);
    b.lm_head(h, n, wte_, logits);
  }

 private:
  struct Layer {
    WeightView ln1_g, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_g, ln2_b, fc_w, fc_b, fc_proj_w, fc_proj_b;
  };
  const ModelConfig c_;
  WeightView wte_, wpe_, lnf_g_, lnf_b_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Graph> gpt2_graph(const ModelConfig& c, WeightBinder& w) { return std::make_unique<Gpt2Graph>(c, w); }

}  // namespace gpt
