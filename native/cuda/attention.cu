// Causal multi-head self-attention over the paged KV pool (see attention.cuh for the layouts), in
// the manner of flash-decoding, one path for prompt chunks and decode steps alike:
//   kv_append_rows             block (row, head): the row's key and value into its slot, rounded
//                              to the pool's dtype.
//   attention_paged_splitk     block (split, head, row): the split's kSplitKeys keys walked by 4
//                              warps, one key per warp per step (lanes over D), each warp an
//                              online softmax; the warps merged in warp order. A query with one
//                              split writes its output; otherwise a partial (max, sum, D outputs).
//   attention_paged_combine    block (head, row): a query's partials merged in split order.
// Every key and value is read from the pool, the row's own included, and a query's splits,
// warps and merge order depend only on its number of keys: its result is the same whatever the
// other rows of the call, their number, or the launch's size (batch invariance). Scores,
// softmax and sums are fp32; head dims are multiples of 16 up to 256, each lane owning the dims
// d = lane + 32·p, p < DPL, built for DPL 2, 4 and 8 (D ≤ 64, 128, 256).
//
// Test: tests/cuda-kernels.test.ts (cudaOps.attention: D = 16 … 256, several sequences per call,
// scattered blocks, F32 / F16 / BF16 pools, against a double reference that sees the pool rounded
// as the kernels do). Time: cudaBench.attention (npm run bench -- --device cuda).
#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"

namespace gpt::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int64_t kBlock = 16;  // positions per KV block (core/kv_layout.h)

// One partial result: max score, sum of exp(score − max), then D unnormalised outputs.
__host__ __device__ inline int64_t partial_floats(int64_t D) { return D + 2; }
int64_t max_splits(int64_t max_positions) { return ceil_div(max_positions, kSplitKeys); }

struct Dims {
  int64_t H, D, C;  // C = H · D
  int64_t splits;   // the launch's splits per query (for the partials' stride)
  float scale;
  int64_t window;       // 0: every key up to the query's position
  const float* slopes;  // ALiBi's, per head, or null
};

__device__ __forceinline__ void store_as(float* p, float x) { *p = x; }
__device__ __forceinline__ void store_as(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store_as(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }

// Element offset of position p's row of head h, through the row's block table.
__device__ __forceinline__ int64_t slot_offset(const int32_t* table, int64_t p, int64_t h, const Dims& g) {
  return ((int64_t(table[p / kBlock]) * g.H + h) * kBlock + p % kBlock) * g.D;
}

template <int DPL, typename T>
__device__ __forceinline__ void load_dims(const T* row, int64_t D, int lane, float (&x)[DPL]) {
#pragma unroll
  for (int i = 0; i < DPL; ++i) {
    const int64_t d = lane + 32 * i;
    x[i] = d < D ? to_f32(row[d]) : 0.0f;
  }
}

template <typename T>
__global__ void kv_append_rows(Dims g, const float* qkv, DeviceLayout layout, T* k, T* v) {
  const int64_t r = blockIdx.x, h = blockIdx.y;
  const int64_t at = slot_offset(layout.tables + layout.table_starts[r], layout.positions[r], h, g);
  const float* src = qkv + r * 3 * g.C + g.C + h * g.D;
  for (int64_t d = threadIdx.x; d < g.D; d += blockDim.x) {
    store_as(k + at + d, src[d]);
    store_as(v + at + d, src[g.C + d]);
  }
}

template <int DPL, typename T>
__global__ void __launch_bounds__(kWarps * 32) attention_paged_splitk(Dims g, const float* qkv, DeviceLayout layout,
                                                                      const T* k, const T* v, float* out,
                                                                      float* partial) {
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_o[kWarps][DPL * 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t split = blockIdx.x, h = blockIdx.y, r = blockIdx.z;
  // A row past the launch's max_positions (a caller's bug: the host checks rule it out) is cut
  // to what the launch and its workspace hold, rather than read or write out of bounds.
  const int64_t keys = min(int64_t(layout.positions[r]) + 1, g.splits * kSplitKeys);
  const int64_t splits = ceil_div(keys, kSplitKeys);
  if (split >= splits) return;  // the launch was sized for longer rows: the whole block leaves
  // Splits stay where they are without a window (key 0 starts split 0), so a query's sums do
  // not move with its window; keys before the window's first are skipped.
  const int64_t position = layout.positions[r];
  const int64_t first = g.window > 0 && position >= g.window ? position - g.window + 1 : 0;
  const int64_t begin = split * kSplitKeys, end = min(keys, begin + kSplitKeys);
  const float slope = g.slopes ? g.slopes[h] : 0.0f;
  const int32_t* table = layout.tables + layout.table_starts[r];

  float q[DPL], o[DPL];
#pragma unroll
  for (int p = 0; p < DPL; ++p) {
    const int64_t d = lane + 32 * p;
    q[p] = d < g.D ? qkv[r * 3 * g.C + h * g.D + d] : 0.0f;
    o[p] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = max(begin, first) + warp; j < end; j += kWarps) {
    const int64_t at = slot_offset(table, j, h, g);
    float kj[DPL], vj[DPL];  // zero past D, as q is
    load_dims(k + at, g.D, lane, kj);
    load_dims(v + at, g.D, lane, vj);
    float s = 0.0f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) s = fmaf(q[p], kj[p], s);
    s = warp_sum(s) * g.scale + slope * float(j - position);
    const float m_new = fmaxf(m, s), corr = expf(m - m_new), pj = expf(s - m_new);
    l = l * corr + pj;
    m = m_new;
#pragma unroll
    for (int p = 0; p < DPL; ++p) o[p] = fmaf(pj, vj[p], o[p] * corr);
  }
  if (lane == 0) {
    sm_m[warp] = m;
    sm_l[warp] = l;
  }
#pragma unroll
  for (int p = 0; p < DPL; ++p) sm_o[warp][lane + 32 * p] = o[p];
  __syncthreads();
  if (warp != 0) return;

  // Merge the warps in order (a warp that saw no key has m = −inf and weighs zero; every split
  // has a key, so M is finite).
  float M = -INFINITY;
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm_m[w]);
  float L = 0.0f, O[DPL] = {};
  for (int w = 0; w < kWarps; ++w) {
    const float f = sm_m[w] == -INFINITY ? 0.0f : expf(sm_m[w] - M);
    L += sm_l[w] * f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) O[p] += sm_o[w][lane + 32 * p] * f;
  }
  if (splits == 1) {  // the query's own key is in it: L > 0
#pragma unroll
    for (int p = 0; p < DPL; ++p) {
      const int64_t d = lane + 32 * p;
      if (d < g.D) out[r * g.C + h * g.D + d] = O[p] / L;
    }
    return;
  }
  float* dst = partial + ((r * g.H + h) * g.splits + split) * partial_floats(g.D);
  if (lane == 0) {
    dst[0] = M;
    dst[1] = L;
  }
#pragma unroll
  for (int p = 0; p < DPL; ++p) {
    const int64_t d = lane + 32 * p;
    if (d < g.D) dst[2 + d] = O[p];
  }
}

// out[r, h] = Σ_s O_s · e^(M_s − M) / Σ_s L_s · e^(M_s − M), over the query's own splits.
__global__ void attention_paged_combine(Dims g, DeviceLayout layout, const float* partial, float* out) {
  const int64_t h = blockIdx.x, r = blockIdx.y;
  const int64_t splits = min(ceil_div(int64_t(layout.positions[r]) + 1, kSplitKeys), g.splits);
  if (splits == 1) return;  // written by the split itself
  const int64_t stride = partial_floats(g.D);
  const float* base = partial + (r * g.H + h) * g.splits * stride;
  // A split wholly before a window's first key holds M = −inf, L = 0: weight 0 (the last split,
  // holding the query's own key, makes M finite).
  float M = -INFINITY;
  for (int64_t s = 0; s < splits; ++s) M = fmaxf(M, base[s * stride]);
  const auto weight = [&](int64_t s) { return base[s * stride] == -INFINITY ? 0.0f : expf(base[s * stride] - M); };
  float L = 0.0f;
  for (int64_t s = 0; s < splits; ++s) L += base[s * stride + 1] * weight(s);
  for (int64_t d = threadIdx.x; d < g.D; d += blockDim.x) {
    float acc = 0.0f;
    for (int64_t s = 0; s < splits; ++s) acc += base[s * stride + 2 + d] * weight(s);
    out[r * g.C + h * g.D + d] = acc / L;
  }
}

void check_shape(const AttentionShape& s, const DeviceLayout& layout, const char* what) {
  const std::string w = std::string(what) + ": ";
  GPT_REQUIRE(s.heads > 0 && layout.rows > 0 && layout.max_positions > 0, w + "empty shape");
  GPT_REQUIRE(s.head_dim % 16 == 0 && s.head_dim >= 16 && s.head_dim <= 256,
              w + "head_dim " + std::to_string(s.head_dim) + " is not a multiple of 16 in 16 … 256");
  GPT_REQUIRE(s.heads <= 65535 && layout.rows <= 65535, w + "heads and rows must each be at most 65535");
  GPT_REQUIRE(max_splits(layout.max_positions) <= 0x7fffffff, w + "too many positions");
}

Dims dims_of(const AttentionShape& s, const AttentionVariant& v, const DeviceLayout& layout) {
  return Dims{s.heads, s.head_dim, s.heads * s.head_dim, max_splits(layout.max_positions), v.scale, v.window, v.slopes};
}

template <int DPL, typename T>
void launch(const Dims& g, const float* qkv, const DeviceLayout& layout, const DevicePool& pool, float* out,
            float* workspace, cudaStream_t stream) {
  const dim3 grid{unsigned(g.splits), unsigned(g.H), unsigned(layout.rows)};
  attention_paged_splitk<DPL, T><<<grid, kWarps * 32, 0, stream>>>(g, qkv, layout, static_cast<const T*>(pool.k),
                                                                    static_cast<const T*>(pool.v), out, workspace);
  CUDA_CHECK_LAUNCH("attention_paged_splitk");
  if (g.splits > 1) {
    attention_paged_combine<<<dim3{unsigned(g.H), unsigned(layout.rows)}, 128, 0, stream>>>(g, layout, workspace,
                                                                                           out);
    CUDA_CHECK_LAUNCH("attention_paged_combine");
  }
}

template <int DPL>
void launch(const Dims& g, const float* qkv, const DeviceLayout& layout, const DevicePool& pool, float* out,
            float* workspace, cudaStream_t stream) {
  switch (pool.dtype) {
    case DType::F32: launch<DPL, float>(g, qkv, layout, pool, out, workspace, stream); break;
    case DType::F16: launch<DPL, __half>(g, qkv, layout, pool, out, workspace, stream); break;
    case DType::BF16: launch<DPL, __nv_bfloat16>(g, qkv, layout, pool, out, workspace, stream); break;
  }
}

}  // namespace

size_t attention_workspace_floats(const AttentionShape& s, int64_t rows, int64_t max_positions) {
  const int64_t splits = max_splits(max_positions);
  return splits > 1 ? size_t(rows * s.heads * splits * partial_floats(s.head_dim)) : 0;
}

void kv_append(const AttentionShape& s, const float* qkv, const DeviceLayout& layout, const DevicePool& pool,
               cudaStream_t stream) {
  check_shape(s, layout, "kv_append");
  const Dims g = dims_of(s, AttentionVariant{1.0f, 0, nullptr}, layout);
  const dim3 grid{unsigned(layout.rows), unsigned(s.heads)};
  const unsigned threads = unsigned(std::min<int64_t>(256, s.head_dim));
  switch (pool.dtype) {
    case DType::F32:
      kv_append_rows<<<grid, threads, 0, stream>>>(g, qkv, layout, static_cast<float*>(pool.k),
                                                   static_cast<float*>(pool.v));
      break;
    case DType::F16:
      kv_append_rows<<<grid, threads, 0, stream>>>(g, qkv, layout, static_cast<__half*>(pool.k),
                                                   static_cast<__half*>(pool.v));
      break;
    case DType::BF16:
      kv_append_rows<<<grid, threads, 0, stream>>>(g, qkv, layout, static_cast<__nv_bfloat16*>(pool.k),
                                                   static_cast<__nv_bfloat16*>(pool.v));
      break;
  }
  CUDA_CHECK_LAUNCH("kv_append_rows");
}

void attention(const AttentionShape& s, const AttentionVariant& v, const float* qkv, const DeviceLayout& layout,
               const DevicePool& pool, float* out, float* workspace, size_t workspace_floats, cudaStream_t stream) {
  check_shape(s, layout, "attention");
  GPT_REQUIRE(qkv && pool.k && pool.v && out, "attention: qkv, pool and out must be device pointers, not null");
  const size_t need = attention_workspace_floats(s, layout.rows, layout.max_positions);
  GPT_REQUIRE(workspace_floats >= need && (need == 0 || workspace),
              "attention: the workspace holds " + std::to_string(workspace_floats) + " floats, " +
                  std::to_string(need) + " needed");
  GPT_REQUIRE(v.window >= 0, "attention: window must be ≥ 0");
  const Dims g = dims_of(s, v, layout);
  if (s.head_dim <= 64) launch<2>(g, qkv, layout, pool, out, workspace, stream);
  else if (s.head_dim <= 128) launch<4>(g, qkv, layout, pool, out, workspace, stream);
  else launch<8>(g, qkv, layout, pool, out, workspace, stream);
}

}  // namespace gpt::cuda
