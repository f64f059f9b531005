// BigScience's BLOOM, as transformers' BloomModel runs it: token embeddings and a LayerNorm over
// them, no learned positions (every layer's attention adds ALiBi's bias), pre-LayerNorm blocks
// whose residual is the LayerNorm's output instead of its input when
// apply_residual_connection_post_layernorm is set, a tanh-GELU MLP, a final LayerNorm, and the LM
// head tied to the token embedding. lib/arch/bloom.ts reorders the head-interleaved fused q|k|v
// into GPT-2's layout at load.
#include "core/graphs/decoder_layer.h"
#include "core/graphs/graphs.h"

namespace gpt {

namespace {

class BloomGraph final : public Graph {
 public:
  BloomGraph(const ModelConfig& c, WeightBinder& w) : c_(c), layers_(size_t(c.n_layer)) {
    const int64_t C = c.n_embd, F = c.n_inner;
    w.table(wte_, "word_embeddings.weight", {c.vocab_size, C});
    w.norm(lne_g_, lne_b_, "word_embeddings_layernorm", C);
    for (int64_t i = 0; i < c.n_layer; ++i)
      bind_decoder_layer(w, layers_[size_t(i)], "h." + std::to_string(i) + ".",
                         {"input_layernorm", "self_attention.qkv", "self_attention.dense", "post_attention_layernorm",
                          "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"},
                         C, F);
    w.norm(lnf_g_, lnf_b_, "ln_f", C);
  }

  void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) override {
    const float eps = c_.layer_norm_epsilon;
    const BlockBuffers buf = block_buffers(b, c_, rows, c_.n_inner);
    b.embed(tokens, rows, wte_, WeightView{}, x);
    b.layernorm(x, rows, lne_g_, lne_b_, eps, x);
    // With the residual taken after the LayerNorm, the LayerNorm writes the residual stream itself.
    float* normed = c_.residual_from_norm ? x : buf.normed;
    for (int64_t l = 0; l < c_.n_layer; ++l)
      pre_norm_block(b, layers_[size_t(l)], l, rows, eps, c_.activation, x, normed, buf);
  }

  void head(Backend& b, const float* x, int64_t n, float* logits) override {
    norm_and_head(b, x, n, c_.n_embd, lnf_g_, lnf_b_, c_.layer_norm_epsilon, wte_, logits);
  }

 private:
  const ModelConfig c_;
  WeightView wte_, lne_g_, lne_b_, lnf_g_, lnf_b_;
  std::vector<DecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Graph> bloom_graph(const ModelConfig& c, WeightBinder& w) { return std::make_unique<BloomGraph>(c, w); }

}  // namespace gpt
