// The decode half of attention (see attention.cu for the layout and the fused append), in the
// manner of flash-decoding: attention_decode_splitk takes (split, head, query) blocks whose warps
// walk a chunk of keys one key per step (lanes over D) and merge in shared memory;
// attention_decode_combine merges the splits. A split whose chunk starts past its query's
// position (the grid was sized for a later start) writes a neutral partial. Split 0 appends the
// query's k and v for its head.
//
// Test: tests/cuda-kernels.test.ts (attention, path "decode"). Time: cudaBench.attention.
#include <algorithm>

#include "cuda/attention_kernels.cuh"

namespace gpt::cuda::attention_detail {

namespace {

template <int DPL, typename T>
__global__ void __launch_bounds__(kWarps * 32) attention_decode_splitk(Dims g, const float* qkv, T* cache,
                                                                       int64_t chunk, float* out, float* partial) {
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_o[kWarps][DPL * 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t start = start_of(g);
  const int64_t split = blockIdx.x, h = blockIdx.y, t = blockIdx.z, pos = start + t;
  // Keys begin … end − 1 of this split; none when the grid was sized for a later start.
  const int64_t begin = split * chunk, end = min(pos + 1, begin + chunk);
  const HeadKv<T> kv(g, qkv, cache, h, start);

  if (split == 0)
    for (int64_t d = threadIdx.x; d < g.D; d += blockDim.x) kv.append(t, d);

  float q[DPL], o[DPL];
#pragma unroll
  for (int p = 0; p < DPL; ++p) {
    const int64_t d = lane + 32 * p;
    q[p] = d < g.D ? qkv[t * 3 * g.C + h * g.D + d] : 0.0f;
    o[p] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = begin + warp; j < end; j += kWarps) {
    float kj[DPL], vj[DPL];  // zero past D, as q is
    kv.k_row(j, lane, kj);
    kv.v_row(j, lane, vj);
    float s = 0.0f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) s = fmaf(q[p], kj[p], s);
    s = warp_sum(s) * g.scale;
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

  // Merge the warps (a warp that saw no key has m = −inf and weighs zero; when no warp saw one,
  // the partial is neutral: M = −inf, L = 0, O = 0, which the combine skips).
  float M = -INFINITY;
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm_m[w]);
  float L = 0.0f, O[DPL] = {};
  if (M != -INFINITY) {
    for (int w = 0; w < kWarps; ++w) {
      const float f = sm_m[w] == -INFINITY ? 0.0f : expf(sm_m[w] - M);
      L += sm_l[w] * f;
#pragma unroll
      for (int p = 0; p < DPL; ++p) O[p] += sm_o[w][lane + 32 * p] * f;
    }
  }
  if (gridDim.x == 1) {  // the only split holds key 0, so L > 0
#pragma unroll
    for (int p = 0; p < DPL; ++p) {
      const int64_t d = lane + 32 * p;
      if (d < g.D) out[t * g.C + h * g.D + d] = O[p] / L;
    }
    return;
  }
  float* dst = partial + ((t * g.H + h) * gridDim.x + split) * partial_floats(g.D);
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

// out[t, h] = Σ_s O_s · e^(M_s − M) / Σ_s L_s · e^(M_s − M); block = (head, query). Split 0
// always holds key 0, so M is finite.
__global__ void attention_decode_combine(Dims g, int splits, const float* partial, float* out) {
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const float* base = partial + (t * g.H + h) * splits * partial_floats(g.D);
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, base[s * partial_floats(g.D)]);
  float L = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float ms = base[s * partial_floats(g.D)];
    if (ms != -INFINITY) L += base[s * partial_floats(g.D) + 1] * expf(ms - M);
  }
  for (int64_t d = threadIdx.x; d < g.D; d += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float ms = base[s * partial_floats(g.D)];
      if (ms != -INFINITY) acc += base[s * partial_floats(g.D) + 2 + d] * expf(ms - M);
    }
    out[t * g.C + h * g.D + d] = acc / L;
  }
}

}  // namespace

template <int DPL, typename T>
void launch_decode(const Launch& l) {
  // Split the longest query's keys so that (splits × heads × rows) covers the SMs twice, in
  // chunks of at least kMinSplitKeys, and no more than the workspace holds. With the start in
  // device memory, g.start is its bound, so the grid covers any start up to it.
  const Dims& g = l.g;
  const int64_t keys = g.start + g.rows;
  int64_t splits = std::min<int64_t>({ceil_div(2 * sm_count(), g.H * g.rows), ceil_div(keys, kMinSplitKeys),
                                      int64_t(kMaxSplits)});
  const int64_t fit = l.workspace ? int64_t(l.workspace_floats / size_t(g.rows * g.H * partial_floats(g.D))) : 1;
  splits = std::max<int64_t>(1, std::min(splits, fit));
  const int64_t chunk = ceil_div(keys, splits);
  splits = ceil_div(keys, chunk);
  const dim3 grid{unsigned(splits), unsigned(g.H), unsigned(g.rows)};
  attention_decode_splitk<DPL, T>
      <<<grid, kWarps * 32, 0, l.stream>>>(g, l.qkv, static_cast<T*>(l.cache), chunk, l.out, l.workspace);
  CUDA_CHECK_LAUNCH("attention_decode_splitk");
  if (splits > 1) {
    attention_decode_combine<<<dim3{unsigned(g.H), unsigned(g.rows)}, 128, 0, l.stream>>>(g, int(splits),
                                                                                         l.workspace, l.out);
    CUDA_CHECK_LAUNCH("attention_decode_combine");
  }
}

GPT_ATTENTION_INSTANTIATE(launch_decode)

}  // namespace gpt::cuda::attention_detail
