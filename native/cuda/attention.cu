// Causal self-attention over the paged KV pool (see attention.cuh for the layouts), multi-head
// and grouped-query alike, in the manner of flash-decoding, one path for prompt chunks and decode
// steps alike:
//   kv_append_rows             block (row, KV head): the row's key and value into its slot,
//                              rounded to the pool's dtype.
//   attention_paged_splitk     block (split, KV head · chunk, row): the split's kSplitKeys keys of
//                              one KV head walked by 4 warps, one key per warp per step (lanes over
//                              D), for a chunk of up to GC of the query heads that read that KV
//                              head (its group: q_heads / kv_heads of them), each key and value
//                              loaded once for the whole chunk — once per group whenever the group
//                              fits one chunk (GC = 16 / DPL: 8 query heads at D ≤ 64, 4 at
//                              D ≤ 128, 2 at D ≤ 256; a larger group takes ceil(group / GC)
//                              blocks, each reading the keys once). Each (warp, query head) keeps
//                              its own online softmax; the warps are merged in warp order, a
//                              query head's merge by warp (head i of the chunk by warp i % 4). A
//                              query with one split writes its output; otherwise a partial (max,
//                              sum, D outputs).
//   attention_paged_combine    block (query head, row): a query's partials merged in split order.
// Every key and value is read from the pool, the row's own included, and a query's splits,
// warps and merge order depend only on its number of keys: its result is the same whatever the
// other rows of the call, their number, the launch's size, or which other query heads share its
// block (each query head's arithmetic is the same chain of operations as with one head per
// block: batch invariance). Scores, softmax and sums are fp32; head dims are multiples of 16 up
// to 256, each lane owning the dims d = lane + 32·p, p < DPL, built for DPL 2, 4 and 8 (D ≤ 64,
// 128, 256).
//
// Test: tests/cuda-kernels.test.ts (cudaOps.attention: D = 16 … 256, several sequences per call,
// scattered blocks, F32 / F16 / BF16 pools, against a double reference that sees the pool rounded
// as the kernels do; grouped-query 9/3, 2/1, 8/1 heads against the CPU reference). Time:
// cudaBench.attention (npm run bench -- --device cuda).
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

// Query heads one block of attention_paged_splitk holds (in registers: q and o are GC · DPL
// floats each per lane, 16 of them at every DPL).
template <int DPL>
constexpr int group_chunk() {
  return 16 / DPL;
}

struct Dims {
  int64_t Hq, Hkv, G, D;  // G = Hq / Hkv: the query heads of one KV head
  int64_t W, Cq;          // a qkv row's floats ((Hq + 2 Hkv) · D), an output row's (Hq · D)
  int64_t chunks;         // blocks per KV head: ceil(G / GC)
  int64_t splits;         // the launch's splits per query (for the partials' stride)
  float scale;
  int64_t window;       // 0: every key up to the query's position
  const float* slopes;  // ALiBi's, per query head, or null
};

__device__ __forceinline__ void store_as(float* p, float x) { *p = x; }
__device__ __forceinline__ void store_as(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store_as(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }

// Element offset of position p's row of KV head h, through the row's block table.
__device__ __forceinline__ int64_t slot_offset(const int32_t* table, int64_t p, int64_t h, const Dims& g) {
  return ((int64_t(table[p / kBlock]) * g.Hkv + h) * kBlock + p % kBlock) * g.D;
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
  const float* src = qkv + r * g.W + g.Hq * g.D + h * g.D;  // its key; its value Hkv · D further
  for (int64_t d = threadIdx.x; d < g.D; d += blockDim.x) {
    store_as(k + at + d, src[d]);
    store_as(v + at + d, src[g.Hkv * g.D + d]);
  }
}

template <int DPL, int GC, typename T>
__global__ void __launch_bounds__(kWarps * 32) attention_paged_splitk(Dims g, const float* qkv, DeviceLayout layout,
                                                                      const T* k, const T* v, float* out,
                                                                      float* partial) {
  __shared__ float sm_m[kWarps][GC], sm_l[kWarps][GC];
  __shared__ float sm_o[kWarps][GC][DPL * 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t split = blockIdx.x, r = blockIdx.z;
  const int64_t kvh = blockIdx.y / g.chunks, g0 = (blockIdx.y % g.chunks) * GC;
  const int gn = int(min(int64_t(GC), g.G - g0));  // this block's query heads: h0 … h0 + gn − 1
  const int64_t h0 = kvh * g.G + g0;
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
  const int32_t* table = layout.tables + layout.table_starts[r];

  // gn is the same for the whole block, so the `i < gn` branches never split a warp (warp_sum
  // needs all 32 lanes).
  float q[GC][DPL], o[GC][DPL], m[GC], l[GC], slope[GC];
#pragma unroll
  for (int i = 0; i < GC; ++i) {
    slope[i] = g.slopes && i < gn ? g.slopes[h0 + i] : 0.0f;
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) {
      const int64_t d = lane + 32 * p;
      q[i][p] = i < gn && d < g.D ? qkv[r * g.W + (h0 + i) * g.D + d] : 0.0f;
      o[i][p] = 0.0f;
    }
  }
  for (int64_t j = max(begin, first) + warp; j < end; j += kWarps) {
    const int64_t at = slot_offset(table, j, kvh, g);
    float kj[DPL], vj[DPL];  // zero past D, as q is; loaded once for the chunk's query heads
    load_dims(k + at, g.D, lane, kj);
    load_dims(v + at, g.D, lane, vj);
#pragma unroll
    for (int i = 0; i < GC; ++i) {
      if (i >= gn) break;
      float s = 0.0f;
#pragma unroll
      for (int p = 0; p < DPL; ++p) s = fmaf(q[i][p], kj[p], s);
      s = warp_sum(s) * g.scale + slope[i] * float(j - position);
      const float m_new = fmaxf(m[i], s), corr = expf(m[i] - m_new), pj = expf(s - m_new);
      l[i] = l[i] * corr + pj;
      m[i] = m_new;
#pragma unroll
      for (int p = 0; p < DPL; ++p) o[i][p] = fmaf(pj, vj[p], o[i][p] * corr);
    }
  }
#pragma unroll
  for (int i = 0; i < GC; ++i) {
    if (lane == 0) {
      sm_m[warp][i] = m[i];
      sm_l[warp][i] = l[i];
    }
#pragma unroll
    for (int p = 0; p < DPL; ++p) sm_o[warp][i][lane + 32 * p] = o[i][p];
  }
  __syncthreads();

  // Merge the warps in order, query head i of the chunk by warp i % 4 (a warp that saw no key
  // has m = −inf and weighs zero; every split has a key, so M is finite).
  for (int i = warp; i < gn; i += kWarps) {
    const int64_t h = h0 + i;
    float M = -INFINITY;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm_m[w][i]);
    float L = 0.0f, O[DPL] = {};
    for (int w = 0; w < kWarps; ++w) {
      const float f = sm_m[w][i] == -INFINITY ? 0.0f : expf(sm_m[w][i] - M);
      L += sm_l[w][i] * f;
#pragma unroll
      for (int p = 0; p < DPL; ++p) O[p] += sm_o[w][i][lane + 32 * p] * f;
    }
    if (splits == 1) {  // the query's own key is in it: L > 0
#pragma unroll
      for (int p = 0; p < DPL; ++p) {
        const int64_t d = lane + 32 * p;
        if (d < g.D) out[r * g.Cq + h * g.D + d] = O[p] / L;
      }
      continue;
    }
    float* dst = partial + ((r * g.Hq + h) * g.splits + split) * partial_floats(g.D);
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
}

// out[r, h] = Σ_s O_s · e^(M_s − M) / Σ_s L_s · e^(M_s − M), over the query's own splits.
__global__ void attention_paged_combine(Dims g, DeviceLayout layout, const float* partial, float* out) {
  const int64_t h = blockIdx.x, r = blockIdx.y;
  const int64_t splits = min(ceil_div(int64_t(layout.positions[r]) + 1, kSplitKeys), g.splits);
  if (splits == 1) return;  // written by the split itself
  const int64_t stride = partial_floats(g.D);
  const float* base = partial + (r * g.Hq + h) * g.splits * stride;
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
    out[r * g.Cq + h * g.D + d] = acc / L;
  }
}

// The chunk size the launch for head dim D uses (attention's dispatch below).
int64_t group_chunk_for(int64_t D) { return D <= 64 ? group_chunk<2>() : D <= 128 ? group_chunk<4>() : group_chunk<8>(); }

void check_shape(const AttentionShape& s, const DeviceLayout& layout, const char* what) {
  const std::string w = std::string(what) + ": ";
  GPT_REQUIRE(s.q_heads > 0 && s.kv_heads > 0 && layout.rows > 0 && layout.max_positions > 0, w + "empty shape");
  GPT_REQUIRE(s.q_heads % s.kv_heads == 0, w + std::to_string(s.q_heads) + " query heads are not a multiple of " +
                                               std::to_string(s.kv_heads) + " KV heads");
  GPT_REQUIRE(s.head_dim % 16 == 0 && s.head_dim >= 16 && s.head_dim <= 256,
              w + "head_dim " + std::to_string(s.head_dim) + " is not a multiple of 16 in 16 … 256");
  GPT_REQUIRE(s.q_heads <= 65535 && layout.rows <= 65535, w + "heads and rows must each be at most 65535");
  GPT_REQUIRE(s.kv_heads * ceil_div(s.group(), group_chunk_for(s.head_dim)) <= 65535, w + "too many heads");
  GPT_REQUIRE(max_splits(layout.max_positions) <= 0x7fffffff, w + "too many positions");
}

Dims dims_of(const AttentionShape& s, const AttentionVariant& v, const DeviceLayout& layout) {
  const int64_t G = s.q_heads / s.kv_heads;
  return Dims{s.q_heads,
              s.kv_heads,
              G,
              s.head_dim,
              s.qkv_width(),
              s.q_heads * s.head_dim,
              ceil_div(G, group_chunk_for(s.head_dim)),
              max_splits(layout.max_positions),
              v.scale,
              v.window,
              v.slopes};
}

template <int DPL, typename T>
void launch(const Dims& g, const float* qkv, const DeviceLayout& layout, const DevicePool& pool, float* out,
            float* workspace, cudaStream_t stream) {
  const dim3 grid{unsigned(g.splits), unsigned(g.Hkv * g.chunks), unsigned(layout.rows)};
  attention_paged_splitk<DPL, group_chunk<DPL>(), T><<<grid, kWarps * 32, 0, stream>>>(
      g, qkv, layout, static_cast<const T*>(pool.k), static_cast<const T*>(pool.v), out, workspace);
  CUDA_CHECK_LAUNCH("attention_paged_splitk");
  if (g.splits > 1) {
    attention_paged_combine<<<dim3{unsigned(g.Hq), unsigned(layout.rows)}, 128, 0, stream>>>(g, layout, workspace,
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
    case DType::I8: throw std::runtime_error("the KV pool is never int8");
  }
}

}  // namespace

size_t attention_workspace_floats(const AttentionShape& s, int64_t rows, int64_t max_positions) {
  const int64_t splits = max_splits(max_positions);
  return splits > 1 ? size_t(rows * s.q_heads * splits * partial_floats(s.head_dim)) : 0;
}

void kv_append(const AttentionShape& s, const float* qkv, const DeviceLayout& layout, const DevicePool& pool,
               cudaStream_t stream) {
  check_shape(s, layout, "kv_append");
  const Dims g = dims_of(s, AttentionVariant{1.0f, 0, nullptr}, layout);
  const dim3 grid{unsigned(layout.rows), unsigned(s.kv_heads)};
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
    case DType::I8: throw std::runtime_error("the KV pool is never int8");
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
