// The op set the model graph is written against. Each backend (CPU, CUDA) implements
// the same signatures over its own memory; the graphs (core/graphs/) call only these.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/kv_layout.h"
#include "core/sampler.h"
#include "core/weight_view.h"

namespace gpt {

// What the fused matmul does with y = x·W + b: stores it, through the MLP's activation or not, or
// adds it into out (the residual stream). An activation is one more epilogue, applied in the
// register that holds the sum.
enum class Epilogue {
  kStore,     // out = y
  kGeluTanh,  // out = gelu_tanh(y): GPT-2's "gelu_new", BLOOM's gelu
  kGeluErf,   // out = gelu_erf(y): the exact GELU ("gelu")
  kRelu,      // out = max(y, 0): OPT
  // out[j] = silu(y[2j]) · y[2j + 1]: Llama's MLP, its gate and up projections one matmul whose
  // columns interleave them (gate j, up j), so each pair sits in one register; out is half W's
  // width (W's must be even).
  kSwiglu,
  kResidual,  // out += y
};

// The width a matmul with `epilogue` writes for a weight of `columns` columns.
inline int64_t epilogue_width(Epilogue epilogue, int64_t columns) {
  return epilogue == Epilogue::kSwiglu ? columns / 2 : columns;
}

// How one layer's attention scores its keys: the row at position i attends to the keys j in
// (i − window, i] (every j ≤ i when window is 0: GPT-Neo's local layers set one) with the score
// scale · q·k, plus slope_h · (j − i) with ALiBi (BLOOM), slope_h the head's (alibi_slopes).
// GPT-2 scales by 1/√D; GPT-Neo does not scale (scale 1). With rotary_dims > 0 the first
// rotary_dims values of every q and k head are rotated by the row's position first (RoPE:
// cpu/rotary.h), in GPT-J's interleaved pairs or the half-split ones (GPT-NeoX, Llama).
struct AttentionSpec {
  float scale = 1.0f;
  int64_t window = 0;
  bool alibi = false;
  int64_t rotary_dims = 0;
  bool rotary_interleaved = false;
};

// What set_attention hands a backend once: each layer's spec, ALiBi's slopes (one per query head;
// empty when no layer uses ALiBi) and the rotary frequencies (rotary_dims / 2; empty when no layer
// rotates), all of the model's.
struct AttentionSetup {
  std::vector<AttentionSpec> layers;
  std::vector<float> alibi_slopes;
  std::vector<float> rope_inv_freq;
};

// The same for one call of a kernel: `slopes` (one per head, in the backend's memory) is set
// when the layer uses ALiBi, null otherwise.
struct AttentionVariant {
  float scale;
  int64_t window;
  const float* slopes;
};

// ALiBi's slopes for `heads` heads (Press et al.; transformers' build_alibi_tensor): for the
// largest power of two p ≤ heads, head h < p gets 2^(−8(h+1)/p), and the others the odd powers
// of 2^(−4/p) in turn — the slopes of 2p heads left over.
std::vector<float> alibi_slopes(int64_t heads);

// The epilogue named `name` ("store", "gelu-tanh", "gelu-erf", "relu", "swiglu", "residual"), for
// the op bindings; false for any other name.
inline bool parse_epilogue(const std::string& name, Epilogue* out) {
  static const std::pair<const char*, Epilogue> names[] = {{"store", Epilogue::kStore},
                                                           {"gelu-tanh", Epilogue::kGeluTanh},
                                                           {"gelu-erf", Epilogue::kGeluErf},
                                                           {"relu", Epilogue::kRelu},
                                                           {"swiglu", Epilogue::kSwiglu},
                                                           {"residual", Epilogue::kResidual}};
  for (const auto& [n, ep] : names)
    if (name == n) return *out = ep, true;
  return false;
}

// Activation buffers a forward pass needs; each is sized per call.
enum class Slot { kResidual, kNormed, kQkv, kAttention, kMlp, kLogitRows, kLogits, kCount };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Throws std::runtime_error, naming what is needed and what there is, when these weights and a
  // KV pool of `dims` will not fit in this backend's memory; called before any adopt().
  virtual void check_fits(const std::vector<const WeightView*>& weights, const KvPoolDims& dims) {
    (void)weights;
    (void)dims;
  }
  // Makes a weight usable by this backend's kernels (a no-op on the CPU, an upload on a GPU).
  virtual WeightView adopt(const WeightView& host) = 0;
  // The same for a matmul's weight [K, N]; a backend may keep it in a layout of its own (the CPU's
  // column panels: cpu/panels.h), a copy, after which the host's bytes are not read again.
  virtual WeightView adopt_matrix(const WeightView& host) { return adopt(host); }
  // The same for a token table [V, C] that lm_head() reads, and with `looked_up` embed() too (a
  // tied table; the CPU keeps it transposed in panels: WeightView::transposed). A backend that
  // copies it calls done_with(first, count) as it finishes reading rows of the host's, which can
  // then go: the table is the largest weight, and two whole copies of it would be. One that keeps
  // reading the host's rows (WeightView::rows) does not, and the host's bytes stay.
  virtual WeightView adopt_table(const WeightView& host, bool looked_up,
                                 const std::function<void(int64_t first, int64_t count)>& done_with) {
    (void)looked_up;
    (void)done_with;
    return adopt(host);
  }
  // An fp32 buffer of at least `floats` elements, valid until the next call for the same slot.
  virtual float* buffer(Slot slot, size_t floats) = 0;
  // Allocates the KV pool: dims.blocks blocks of kKvBlockSize positions for every layer.
  virtual void allocate_kv_pool(const KvPoolDims& dims) = 0;
  // Bytes the pool can hold (its capacity; the CPU backend's pages are only committed as used).
  virtual size_t kv_cache_bytes() const = 0;

  // Each layer's attention (AttentionSetup); called once, after allocate_kv_pool.
  virtual void set_attention(const AttentionSetup& setup) = 0;

  // This step's rows and where they sit (kv_layout.h); embed and attention read it until the
  // next call.
  virtual void begin_step(const StepLayout& layout) = 0;
  // out[r] = wte[tokens[r]] + wpe[position of row r]; `tokens` are the layout's (a backend that
  // records steps reads its own copy of them). Either table may be absent (data null), adding
  // nothing: BLOOM has no learned positions, and OPT's project_in embeds tokens and positions apart.
  virtual void embed(const int32_t* tokens, int64_t rows, const WeightView& wte, const WeightView& wpe,
                     float* out) = 0;
  virtual void layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                         float* out) = 0;
  // out = x / √(mean(x²) + eps) · gamma per row (RMSNorm: Llama, Qwen2).
  virtual void rmsnorm(const float* x, int64_t rows, const WeightView& gamma, float eps, float* out) = 0;
  // out = epilogue(in · w + bias), [rows, epilogue_width(epilogue, w.shape[1])].
  virtual void matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
                      float* out) = 0;
  // qkv holds each row's [q: q_heads · D | k: kv_heads · D | v: kv_heads · D] (KvPoolDims).
  // Rotates q and k in place when the layer's spec says so, writes each row's key and value into
  // `layer`'s blocks at the row's position, then attends causally, query head h reading KV head
  // h / (q_heads / kv_heads) (grouped-query attention): every key and value is read from the
  // pool, the row's own included, so a row's result never depends on which other rows share its
  // call. out is [rows, q_heads · D].
  virtual void attention(int64_t layer, float* qkv, int64_t rows, float* out) = 0;
  // dst[i] = src[rows[i]] for `count` rows of `width` floats; `rows` is host memory.
  virtual void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst) = 0;
  // logits = in · wteᵀ (+ bias when bias.data is set: GPT-J's head), wte [vocab, C].
  virtual void lm_head(const float* in, int64_t rows, const WeightView& wte, const WeightView& bias, float* logits) = 0;
  // Copies `count` floats from backend memory to the host.
  virtual void read(const float* src, size_t count, float* host) = 0;
  // Picks a token from rows[i] of `logits` (rows of `vocab` floats in backend memory) with
  // requests[i], for i < count, with sample_token's semantics and errors, so that only the tokens
  // and logprobs reach the host; `rows` and `requests` are host memory.
  virtual void sample(const float* logits, int64_t vocab, const int32_t* rows, const SampleRequest* requests,
                      int64_t count, Sampled* out) = 0;

  // How many rows a step of `rows` decode rows should run as: a backend that replays recorded
  // steps (the CUDA graphs) rounds up to the sizes it records; the model pads with rows that
  // write only the pool's scratch block (block index dims.blocks, one past the last).
  virtual int64_t decode_rows_padded(int64_t rows) const { return rows; }
  // Runs `step`, a forward pass of one decode row per sequence (rows as decode_rows_padded
  // gave), whose op calls are the same on every call with that many rows except for the
  // layout's contents. A backend may record the ops once per row count and replay them (the
  // CUDA backend captures a graph); its kernels must then read the layout from where
  // begin_step put it.
  virtual void run_decode_step(int64_t rows, const std::function<void()>& step) {
    (void)rows;
    step();
  }
  // How many decode steps were replayed from a recording so far (0 for a backend that never records).
  virtual uint64_t decode_steps_replayed() const { return 0; }
};

}  // namespace gpt
