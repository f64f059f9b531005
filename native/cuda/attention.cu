// Causal multi-head self-attention over the KV cache, without a T×T score matrix, appending this
// call's keys and values to the cache as it goes: the checks and the dispatch. The kernels are in
// attention_prefill.cu (FlashAttention-style tiles) and attention_decode.cu (flash-decoding
// splits); what they share is in attention_kernels.cuh.
//
// Layout (see attention.cuh): qkv [rows, 3C]; one layer's cache is k[H][capacity][D] followed by
// v[H][capacity][D], in F32, F16 or BF16 (template parameter T: widened with to_f32 on read,
// rounded to nearest on write); out [rows, C]. Scores, softmax and sums are fp32 throughout. Head
// dims: any multiple of 16 up to 256; each lane of a warp owns the dims d = lane + 32·p, p < DPL,
// built for DPL 2, 4 and 8 (D ≤ 64, 128, 256).
//
// The append is fused: a key or value at position p < start is read from the cache, at p ≥ start
// from qkv row p − start (HeadKv), and each new row is written into the cache by exactly one
// block, which no block of the call reads (they read the cache only below start).
// The start position is a kernel argument, or, for a launch recorded once in a CUDA graph and
// replayed at every decode step, an int32 in device memory that the kernels read at entry (then
// the host's start is an upper bound, which sizes the decode split grid).
//
// Test: tests/cuda-kernels.test.ts (cudaOps.attention: both paths, D = 16 … 256, odd starts and
// lengths, F32 / F16 / BF16 caches, start from device memory, against a double reference that
// sees the cache rounded as the kernels do). Time: cudaBench.attention (npm run bench -- --device cuda).
#include <cmath>
#include <string>

#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"

namespace gpt::cuda {

using namespace attention_detail;

namespace {

void check_shape(const AttentionShape& s, int64_t rows, int64_t start, const char* what) {
  const std::string w = std::string(what) + ": ";
  GPT_REQUIRE(s.heads > 0 && rows > 0 && start >= 0, w + "empty shape or negative start");
  GPT_REQUIRE(s.head_dim % 16 == 0 && s.head_dim >= 16 && s.head_dim <= 256,
              w + "head_dim " + std::to_string(s.head_dim) + " is not a multiple of 16 in 16 … 256");
  GPT_REQUIRE(start + rows <= s.capacity, w + "positions up to " + std::to_string(start + rows) +
                                              " exceed the cache capacity " + std::to_string(s.capacity));
  GPT_REQUIRE(s.heads <= 65535 && rows <= 65535, w + "heads and rows must each be at most 65535");
}

template <int DPL, typename T>
void launch(const Launch& l) {
  if (l.decode)
    launch_decode<DPL, T>(l);
  else
    launch_prefill<DPL, T>(l);
}

template <int DPL>
void launch(const Launch& l, DType cache_dtype) {
  switch (cache_dtype) {
    case DType::F32: launch<DPL, float>(l); break;
    case DType::F16: launch<DPL, __half>(l); break;
    case DType::BF16: launch<DPL, __nv_bfloat16>(l); break;
  }
}

}  // namespace

size_t attention_workspace_floats(const AttentionShape& s, int64_t rows) {
  return size_t(rows * s.heads * kMaxSplits * partial_floats(s.head_dim));
}

void attention(const AttentionShape& s, const AttentionCall& call, AttentionPath path, float* workspace,
               size_t workspace_floats, cudaStream_t stream) {
  check_shape(s, call.rows, call.start, "attention");
  GPT_REQUIRE(call.qkv && call.cache && call.out, "attention: qkv, cache and out must be device pointers, not null");
  const Dims g{s.heads,   s.head_dim, s.capacity,        s.heads * s.head_dim,
               call.rows, call.start, call.device_start, 1.0f / std::sqrt(float(s.head_dim))};
  const bool decode =
      path == AttentionPath::kDecode || (path == AttentionPath::kAuto && call.rows <= kDecodeMaxQueries);
  const Launch l{g, call.qkv, call.cache, call.out, decode, workspace, workspace_floats, stream};
  switch (dpl_for(s.head_dim)) {
    case 2: launch<2>(l, call.cache_dtype); break;
    case 4: launch<4>(l, call.cache_dtype); break;
    default: launch<8>(l, call.cache_dtype); break;
  }
}

}  // namespace gpt::cuda
