// Meta's OPT, as transformers' OPTDecoder runs it: token embeddings (width word_embed_proj_dim,
// mapped to the model's width by project_in when it differs) plus learned positions (whose
// offset of 2 lib/arch/opt.ts applies by viewing the table from its third row), then blocks
// whose LayerNorms come before attention and the MLP (do_layer_norm_before) or after each
// residual add (OPT-350m), the MLP's activation ReLU; a final LayerNorm in the pre-norm layout,
// project_out back to the embedding width, and the LM head tied to the token embedding.
#include <algorithm>

#include "core/graphs/decoder_layer.h"
#include "core/graphs/graphs.h"

namespace gpt {

namespace {

class OptGraph final : public Graph {
 public:
  OptGraph(const ModelConfig& c, WeightBinder& w) : c_(c), layers_(size_t(c.n_layer)) {
    const int64_t C = c.n_embd, F = c.n_inner, E = embed_dim();
    w.table(wte_, "embed_tokens.weight", {c.vocab_size, E});
    w.want(wpe_, "embed_positions.weight", {c.n_ctx, C});
    if (projected()) {
      w.linear(in_w_, in_b_, "project_in", E, C);
      w.linear(out_w_, out_b_, "project_out", C, E);
    }
    for (int64_t i = 0; i < c.n_layer; ++i)
      bind_decoder_layer(w, layers_[size_t(i)], "layers." + std::to_string(i) + ".",
                         {"self_attn_layer_norm", "self_attn.qkv", "self_attn.out_proj", "final_layer_norm", "fc1", "fc2"},
                         C, F);
    if (c.pre_norm) w.norm(lnf_g_, lnf_b_, "final_layer_norm", C);
  }

  void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) override {
    const float eps = c_.layer_norm_epsilon;
    const BlockBuffers buf = block_buffers(b, c_, rows, std::max(c_.n_inner, embed_dim()));
    if (projected()) {
      // x = positions, then += project_in(tokens' embeddings), embedded first into the MLP's buffer.
      b.embed(tokens, rows, wte_, WeightView{}, buf.mlp);
      b.embed(tokens, rows, WeightView{}, wpe_, x);
      b.matmul(buf.mlp, rows, in_w_, in_b_, Epilogue::kResidual, x);
    } else {
      b.embed(tokens, rows, wte_, wpe_, x);
    }
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const DecoderLayer& L = layers_[size_t(l)];
      if (c_.pre_norm)
        pre_norm_block(b, L, l, rows, eps, c_.activation, x, buf.normed, buf);
      else
        post_norm_block(b, L, l, rows, eps, c_.activation, x, buf);
    }
  }

  void head(Backend& b, const float* x, int64_t n, float* logits) override {
    const float* last = x;
    if (c_.pre_norm) {
      float* h = b.buffer(Slot::kNormed, size_t(n * c_.n_embd));
      b.layernorm(x, n, lnf_g_, lnf_b_, c_.layer_norm_epsilon, h);
      last = h;
    }
    if (projected()) {
      float* p = b.buffer(Slot::kAttention, size_t(n * embed_dim()));
      b.matmul(last, n, out_w_, out_b_, Epilogue::kStore, p);
      last = p;
    }
    b.lm_head(last, n, wte_, WeightView{}, logits);
  }

 private:
  int64_t embed_dim() const { return c_.word_embed_dim > 0 ? c_.word_embed_dim : c_.n_embd; }
  bool projected() const { return embed_dim() != c_.n_embd; }

  const ModelConfig c_;
  WeightView wte_, wpe_, in_w_, in_b_, out_w_, out_b_, lnf_g_, lnf_b_;
  std::vector<DecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Graph> opt_graph(const ModelConfig& c, WeightBinder& w) { return std::make_unique<OptGraph>(c, w); }

}  // namespace gpt
