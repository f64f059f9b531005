// GPT-2, and GPT-Neo (whose checkpoints lib/arch/gpt-neo.ts lays out as GPT-2's at load: fused
// q|k|v, [in, out] matrices; its unscaled scores and local windows are its layers'
// AttentionSpec): token and learned position embeddings added, pre-LayerNorm blocks (attention,
// then the MLP, each added to the residual stream), a final LayerNorm, and the LM head tied to
// the token embedding.
#include "core/graphs/decoder_layer.h"
#include "core/graphs/graphs.h"

namespace gpt {

namespace {

class Gpt2Graph final : public Graph {
 public:
  Gpt2Graph(const ModelConfig& c, WeightBinder& w) : c_(c), layers_(size_t(c.n_layer)) {
    const int64_t C = c.n_embd;
    w.table(wte_, "wte.weight", {c.vocab_size, C});
    w.want(wpe_, "wpe.weight", {c.n_ctx, C});
    for (int64_t i = 0; i < c.n_layer; ++i)
      bind_decoder_layer(w, layers_[size_t(i)], "h." + std::to_string(i) + ".",
                         {"ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"}, C, c.n_inner);
    w.norm(lnf_g_, lnf_b_, "ln_f", C);
  }

  void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) override {
    const BlockBuffers buf = block_buffers(b, c_, rows, c_.n_inner);
    b.embed(tokens, rows, wte_, wpe_, x);
    for (int64_t l = 0; l < c_.n_layer; ++l)
      pre_norm_block(b, layers_[size_t(l)], l, rows, c_.layer_norm_epsilon, c_.activation, x, buf.normed, buf);
  }

  void head(Backend& b, const float* x, int64_t n, float* logits) override {
    norm_and_head(b, x, n, c_.n_embd, lnf_g_, lnf_b_, c_.layer_norm_epsilon, wte_, logits);
  }

 private:
  const ModelConfig c_;
  WeightView wte_, wpe_, lnf_g_, lnf_b_;
  std::vector<DecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Graph> gpt2_graph(const ModelConfig& c, WeightBinder& w) { return std::make_unique<Gpt2Graph>(c, w); }

}  // namespace gpt
