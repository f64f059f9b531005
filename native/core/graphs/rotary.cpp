// The rotary-position families, as transformers runs them: GPT-J, GPT-NeoX (Pythia), Llama
// (SmolLM2, TinyLlama) and Qwen2. Token embeddings only (attention rotates q and k by position:
// AttentionSpec::rotary_dims), then pre-norm blocks — LayerNorm or RMSNorm — whose attention and
// MLP run one after the other (Llama, GPT-NeoX without use_parallel_residual) or both from the
// block's input, added to it together (GPT-J from one shared norm, GPT-NeoX from two); the MLP is
// two matmuls with an activation or Llama's SwiGLU (its gate and up one matmul, interleaved:
// lib/arch/llama.ts); a final norm, and the LM head (the embedding when tied; GPT-J's with a
// bias). Grouped-query attention and an explicit head width are the attention's (KvPoolDims).
// Missing biases are zeros the descriptions supply.
#include "core/graphs/decoder_layer.h"
#include "core/graphs/graphs.h"

namespace gpt {

namespace {

class RotaryGraph final : public Graph {
 public:
  RotaryGraph(const ModelConfig& c, WeightBinder& w) : c_(c), layers_(size_t(c.n_layer)) {
    const int64_t C = c.n_embd, F = c.n_inner, A = c.n_head * c.head_dim;
    const int64_t qkv = (c.n_head + 2 * c.n_kv_head) * c.head_dim;
    const int64_t up = c.activation == Epilogue::kSwiglu ? 2 * F : F;
    // Tied, the embedding is the head's table; untied, the head has its own and the embedding is
    // only looked up.
    if (c.tied_head)
      w.table(embed_, "embed.weight", {c.vocab_size, C});
    else
      w.want(embed_, "embed.weight", {c.vocab_size, C});
    for (int64_t i = 0; i < c.n_layer; ++i) {
      DecoderLayer& L = layers_[size_t(i)];
      const std::string p = "layers." + std::to_string(i) + ".";
      norm(w, L.ln1_g, L.ln1_b, p + "norm1");
      w.linear(L.qkv_w, L.qkv_b, p + "qkv", C, qkv);
      w.linear(L.out_w, L.out_b, p + "out", A, C);
      if (!c.shared_norm) norm(w, L.ln2_g, L.ln2_b, p + "norm2");
      w.linear(L.up_w, L.up_b, p + "up", C, up);
      w.linear(L.down_w, L.down_b, p + "down", F, C);
    }
    norm(w, normf_g_, normf_b_, "norm_f");
    if (!c.tied_head) w.head(head_, "lm_head.weight", {c.vocab_size, C});
    if (c.head_bias) w.want(head_b_, "lm_head.bias", {c.vocab_size});
  }

  void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) override {
    const BlockBuffers buf = block_buffers(b, c_, rows, c_.n_inner);
    b.embed(tokens, rows, embed_, WeightView{}, x);
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const DecoderLayer& L = layers_[size_t(l)];
      apply_norm(b, x, rows, L.ln1_g, L.ln1_b, buf.normed);
      b.matmul(buf.normed, rows, L.qkv_w, L.qkv_b, Epilogue::kStore, buf.qkv);
      b.attention(l, buf.qkv, rows, buf.att);
      if (c_.parallel_residual) {
        // The MLP reads the block's input too: its norm is taken before attention's sum is added.
        if (!c_.shared_norm) apply_norm(b, x, rows, L.ln2_g, L.ln2_b, buf.normed);
        b.matmul(buf.normed, rows, L.up_w, L.up_b, c_.activation, buf.mlp);
        b.matmul(buf.att, rows, L.out_w, L.out_b, Epilogue::kResidual, x);
      } else {
        b.matmul(buf.att, rows, L.out_w, L.out_b, Epilogue::kResidual, x);
        apply_norm(b, x, rows, L.ln2_g, L.ln2_b, buf.normed);
        b.matmul(buf.normed, rows, L.up_w, L.up_b, c_.activation, buf.mlp);
      }
      b.matmul(buf.mlp, rows, L.down_w, L.down_b, Epilogue::kResidual, x);
    }
  }

  void head(Backend& b, const float* x, int64_t n, float* logits) override {
    float* h = b.buffer(Slot::kNormed, size_t(n * c_.n_embd));
    apply_norm(b, x, n, normf_g_, normf_b_, h);
    b.lm_head(h, n, c_.tied_head ? embed_ : head_, head_b_, logits);
  }

 private:
  // A norm's `name`.weight, and its .bias for a LayerNorm (RMSNorm has none).
  void norm(WeightBinder& w, WeightView& gamma, WeightView& beta, const std::string& name) const {
    if (c_.norm == NormKind::kRmsNorm)
      w.want(gamma, name + ".weight", {c_.n_embd});
    else
      w.norm(gamma, beta, name, c_.n_embd);
  }

  void apply_norm(Backend& b, const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta,
                  float* out) const {
    if (c_.norm == NormKind::kRmsNorm)
      b.rmsnorm(x, rows, gamma, c_.layer_norm_epsilon, out);
    else
      b.layernorm(x, rows, gamma, beta, c_.layer_norm_epsilon, out);
  }

  const ModelConfig c_;
  WeightView embed_, normf_g_, normf_b_, head_, head_b_;
  std::vector<DecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Graph> rotary_graph(const ModelConfig& c, WeightBinder& w) { return std::make_unique<RotaryGraph>(c, w); }

}  // namespace gpt
