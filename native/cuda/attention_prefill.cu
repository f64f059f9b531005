// The prefill half of attention (see attention.cu for the layout and the fused append):
// attention_prefill_flash, FlashAttention-style. A block takes 16 queries of one head, 4 warps ×
// 4 queries; key/value tiles of 32 go through shared memory, lane j scores key j, and the online
// softmax keeps (max, sum, out) per query in registers, so the T×T scores never reach global
// memory. The block also appends the k and v of its own 16 rows for its head.
//
// Test: tests/cuda-kernels.test.ts (attention, path "prefill"). Time: cudaBench.attention.
#include "cuda/attention_kernels.cuh"

namespace gpt::cuda::attention_detail {

namespace {

constexpr int kQueries = 16;  // per prefill block
constexpr int kRowsPerWarp = kQueries / kWarps;
constexpr int kKeys = 32;  // per shared-memory tile: one per lane

// Shared memory: Qs[kQueries][D], Ks[kKeys][D + 1] (padded: lane j reads row j), Vs[kKeys][D].
inline size_t prefill_smem_bytes(int64_t D) {
  return size_t(kQueries * D + kKeys * (D + 1) + kKeys * D) * sizeof(float);
}

template <int DPL, typename T>
__global__ void __launch_bounds__(kWarps * 32) attention_prefill_flash(Dims g, const float* qkv, T* cache, float* out) {
  extern __shared__ float smem[];
  float* Qs = smem;
  float* Ks = Qs + kQueries * g.D;
  float* Vs = Ks + kKeys * (g.D + 1);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t start = start_of(g);
  const int64_t h = blockIdx.y, t0 = int64_t(blockIdx.x) * kQueries;
  const int64_t t_end = min(g.rows, t0 + kQueries);
  const HeadKv<T> kv(g, qkv, cache, h, start);

  // The block's queries into shared memory, and its rows' keys and values into the cache.
  for (int64_t i = threadIdx.x; i < kQueries * g.D; i += blockDim.x) {
    const int64_t t = t0 + i / g.D, d = i % g.D;
    Qs[i] = t < t_end ? qkv[t * 3 * g.C + h * g.D + d] : 0.0f;
    if (t < t_end) kv.append(t, d);
  }

  float m[kRowsPerWarp], l[kRowsPerWarp], o[kRowsPerWarp][DPL];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) o[r][p] = 0.0f;
  }

  const int64_t last_key = start + t_end - 1;  // the block's last query sees keys 0 … last_key
  for (int64_t j0 = 0; j0 <= last_key; j0 += kKeys) {
    __syncthreads();  // the previous tile is no longer read (and Qs is written, first time round)
    for (int64_t i = threadIdx.x; i < kKeys * g.D; i += blockDim.x) {
      const int64_t j = j0 + i / g.D, d = i % g.D;
      const bool in = j <= last_key;
      Ks[(i / g.D) * (g.D + 1) + d] = in ? kv.k(j, d) : 0.0f;
      Vs[i] = in ? kv.v(j, d) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t q = warp * kRowsPerWarp + r, t = t0 + q, pos = start + t;
      if (t >= t_end || j0 > pos) continue;  // warp-uniform: no key of this tile is visible
      const float* qs = Qs + q * g.D;
      const float* ks = Ks + lane * (g.D + 1);
      float s = 0.0f;
      for (int64_t d = 0; d < g.D; ++d) s = fmaf(qs[d], ks[d], s);
      s = j0 + lane <= pos ? s * g.scale : -INFINITY;
      const float m_new = fmaxf(m[r], warp_max(s));  // finite: key j0 ≤ pos is visible
      const float p = expf(s - m_new), corr = expf(m[r] - m_new);
      l[r] = l[r] * corr + warp_sum(p);
      m[r] = m_new;
#pragma unroll
      for (int pp = 0; pp < DPL; ++pp) o[r][pp] *= corr;
      for (int j = 0; j < kKeys; ++j) {
        const float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
        for (int pp = 0; pp < DPL; ++pp) {
          const int64_t d = lane + 32 * pp;
          if (d < g.D) o[r][pp] = fmaf(pj, Vs[j * g.D + d], o[r][pp]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t t = t0 + warp * kRowsPerWarp + r;
    if (t >= t_end) continue;
    const float inv = 1.0f / l[r];
#pragma unroll
    for (int pp = 0; pp < DPL; ++pp) {
      const int64_t d = lane + 32 * pp;
      if (d < g.D) out[t * g.C + h * g.D + d] = o[r][pp] * inv;
    }
  }
}

}  // namespace

template <int DPL, typename T>
void launch_prefill(const Launch& l) {
  const Dims& g = l.g;
  const size_t smem = prefill_smem_bytes(g.D);
  if (smem > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(attention_prefill_flash<DPL, T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    int(smem)));
  const dim3 grid{unsigned(ceil_div(g.rows, kQueries)), unsigned(g.H)};
  attention_prefill_flash<DPL, T><<<grid, kWarps * 32, smem, l.stream>>>(g, l.qkv, static_cast<T*>(l.cache), l.out);
  CUDA_CHECK_LAUNCH("attention_prefill_flash");
}

GPT_ATTENTION_INSTANTIATE(launch_prefill)

}  // namespace gpt::cuda::attention_detail
