// Causal multi-head self-attention over the KV cache, in fp32, without a T×T score matrix.
//
// Layout (see attention.cuh): qkv [rows, 3C]; one layer's cache is k[H][capacity][D] followed by
// v[H][capacity][D]; out [rows, C]. Head dims: any multiple of 16 up to 256; each lane of a warp
// owns the dims d = lane + 32·p, p < DPL = ceil(D / 32), and DPL is the only template parameter.
//
//   kv_append_rows            copies k and v of this call into the cache (a separate small
//                             kernel for now; fusing it into the QKV matmul epilogue needs the
//                             graph to say which matmul is the QKV one).
//   attention_prefill_flash   block = 16 queries of one head, 4 warps × 4 queries; key/value
//                             tiles of 32 in shared memory; lane j scores key j, the online
//                             softmax keeps (max, sum, out) per query in registers.
//   attention_decode_splitk   flash-decoding: block = (split, head, query); its warps walk a
//                             chunk of keys one key per step (lanes over D), merge in shared
//                             memory; attention_decode_combine merges the splits.
//
// Test: tests/cuda-kernels.test.ts (cudaOps.attention, both paths, D = 64, 80, 128 and odd
// starts/lengths, against a double reference). Time: bench harness (to come).
#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"

namespace gpt::cuda {

namespace {

// ---------------------------------------------------------------------------------------------
// Kernels

struct Dims {
  int64_t H, D, cap, C;  // C = H · D
  int64_t rows, start;
  float scale;  // 1 / sqrt(D)
};

__global__ void kv_append_rows(Dims g, const float* qkv, float* cache) {
  const int64_t t = blockIdx.x, h = blockIdx.y;
  const float* k = qkv + t * 3 * g.C + g.C + h * g.D;
  const float* v = k + g.C;
  float* kc = cache + (h * g.cap + g.start + t) * g.D;
  float* vc = kc + g.H * g.cap * g.D;
  for (int64_t d = threadIdx.x; d < g.D; d += blockDim.x) {
    kc[d] = k[d];
    vc[d] = v[d];
  }
}

constexpr int kQueries = 16;  // per prefill block
constexpr int kWarps = 4;
constexpr int kRowsPerWarp = kQueries / kWarps;
constexpr int kKeys = 32;  // per shared-memory tile: one per lane

// Shared memory: Qs[kQueries][D], Ks[kKeys][D + 1] (padded: lane j reads row j), Vs[kKeys][D].
inline size_t prefill_smem_bytes(int64_t D) {
  return size_t(kQueries * D + kKeys * (D + 1) + kKeys * D) * sizeof(float);
}

template <int DPL>
__global__ void __launch_bounds__(kWarps * 32) attention_prefill_flash(Dims g, const float* qkv, const float* cache,
                                                                       float* out) {
  extern __shared__ float smem[];
  float* Qs = smem;
  float* Ks = Qs + kQueries * g.D;
  float* Vs = Ks + kKeys * (g.D + 1);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t h = blockIdx.y, t0 = int64_t(blockIdx.x) * kQueries;
  const int64_t t_end = min(g.rows, t0 + kQueries);
  const float* k_head = cache + h * g.cap * g.D;
  const float* v_head = k_head + g.H * g.cap * g.D;

  for (int64_t i = threadIdx.x; i < kQueries * g.D; i += blockDim.x) {
    const int64_t t = t0 + i / g.D;
    Qs[i] = t < g.rows ? qkv[t * 3 * g.C + h * g.D + i % g.D] : 0.0f;
  }

  float m[kRowsPerWarp], l[kRowsPerWarp], o[kRowsPerWarp][DPL];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) o[r][p] = 0.0f;
  }

  const int64_t last_key = g.start + t_end - 1;  // the block's last query sees keys 0 … last_key
  for (int64_t j0 = 0; j0 <= last_key; j0 += kKeys) {
    __syncthreads();  // the previous tile is no longer read (and Qs is written, first time round)
    for (int64_t i = threadIdx.x; i < kKeys * g.D; i += blockDim.x) {
      const int64_t j = j0 + i / g.D, d = i % g.D;
      const bool in = j <= last_key;
      Ks[(i / g.D) * (g.D + 1) + d] = in ? k_head[j * g.D + d] : 0.0f;
      Vs[i] = in ? v_head[j * g.D + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t q = warp * kRowsPerWarp + r, t = t0 + q, pos = g.start + t;
      if (t >= g.rows || j0 > pos) continue;  // warp-uniform: no key of this tile is visible
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
    if (t >= g.rows) continue;
    const float inv = 1.0f / l[r];
#pragma unroll
    for (int pp = 0; pp < DPL; ++pp) {
      const int64_t d = lane + 32 * pp;
      if (d < g.D) out[t * g.C + h * g.D + d] = o[r][pp] * inv;
    }
  }
}

constexpr int kMaxSplits = 32;
constexpr int64_t kMinSplitKeys = 64;

// One partial result: max score, sum of exp(score − max), then D unnormalised outputs.
__host__ __device__ inline int64_t partial_floats(int64_t D) { return D + 2; }

template <int DPL>
__global__ void __launch_bounds__(kWarps * 32) attention_decode_splitk(Dims g, const float* qkv, const float* cache,
                                                                       int64_t chunk, float* out, float* partial) {
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_o[kWarps][DPL * 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t split = blockIdx.x, h = blockIdx.y, t = blockIdx.z, pos = g.start + t;
  const int64_t begin = split * chunk, end = min(pos + 1, begin + chunk);
  const float* k_head = cache + h * g.cap * g.D;
  const float* v_head = k_head + g.H * g.cap * g.D;

  float q[DPL], o[DPL];
#pragma unroll
  for (int p = 0; p < DPL; ++p) {
    const int64_t d = lane + 32 * p;
    q[p] = d < g.D ? qkv[t * 3 * g.C + h * g.D + d] : 0.0f;
    o[p] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = begin + warp; j < end; j += kWarps) {
    float s = 0.0f;
#pragma unroll
    for (int p = 0; p < DPL; ++p) {
      const int64_t d = lane + 32 * p;
      if (d < g.D) s = fmaf(q[p], k_head[j * g.D + d], s);
    }
    s = warp_sum(s) * g.scale;
    const float m_new = fmaxf(m, s), corr = expf(m - m_new), pj = expf(s - m_new);
    l = l * corr + pj;
    m = m_new;
#pragma unroll
    for (int p = 0; p < DPL; ++p) {
      const int64_t d = lane + 32 * p;
      if (d < g.D) o[p] = fmaf(pj, v_head[j * g.D + d], o[p] * corr);
    }
  }
  if (lane == 0) {
    sm_m[warp] = m;
    sm_l[warp] = l;
  }
#pragma unroll
  for (int p = 0; p < DPL; ++p) sm_o[warp][lane + 32 * p] = o[p];
  __syncthreads();
  if (warp != 0) return;

  // Merge the warps (a warp that saw no key has m = −inf and weighs zero).
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
  if (gridDim.x == 1) {
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

// out[t, h] = Σ_s O_s · e^(M_s − M) / Σ_s L_s · e^(M_s − M); block = (head, query).
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

// ---------------------------------------------------------------------------------------------
// Launchers

Dims dims_of(const AttentionShape& s, int64_t rows, int64_t start) {
  return {s.heads, s.head_dim, s.capacity, s.heads * s.head_dim, rows, start, 1.0f / std::sqrt(float(s.head_dim))};
}

void check_shape(const AttentionShape& s, int64_t rows, int64_t start, const char* what) {
  const std::string w = std::string(what) + ": ";
  GPT_REQUIRE(s.heads > 0 && rows > 0 && start >= 0, w + "empty shape or negative start");
  GPT_REQUIRE(s.head_dim % 16 == 0 && s.head_dim >= 16 && s.head_dim <= 256,
              w + "head_dim " + std::to_string(s.head_dim) + " is not a multiple of 16 in 16 … 256");
  GPT_REQUIRE(start + rows <= s.capacity, w + "positions up to " + std::to_string(start + rows) +
                                              " exceed the cache capacity " + std::to_string(s.capacity));
  GPT_REQUIRE(s.heads <= 65535 && rows <= 65535, w + "heads and rows must each be at most 65535");
}

template <int DPL>
void launch_prefill(const Dims& g, const float* qkv, const float* cache, float* out, cudaStream_t stream) {
  const size_t smem = prefill_smem_bytes(g.D);
  if (smem > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(attention_prefill_flash<DPL>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    int(smem)));
  const dim3 grid{unsigned(ceil_div(g.rows, kQueries)), unsigned(g.H)};
  attention_prefill_flash<DPL><<<grid, kWarps * 32, smem, stream>>>(g, qkv, cache, out);
  CUDA_CHECK_LAUNCH("attention_prefill_flash");
}

template <int DPL>
void launch_decode(const Dims& g, const float* qkv, const float* cache, float* out, float* workspace,
                   size_t workspace_floats, cudaStream_t stream) {
  // Split the longest query's keys so that (splits × heads × rows) covers the SMs twice, in
  // chunks of at least kMinSplitKeys, and no more than the workspace holds.
  const int64_t keys = g.start + g.rows;
  int64_t splits = std::min<int64_t>({ceil_div(2 * sm_count(), g.H * g.rows), ceil_div(keys, kMinSplitKeys),
                                      int64_t(kMaxSplits)});
  const int64_t fit = workspace ? int64_t(workspace_floats / size_t(g.rows * g.H * partial_floats(g.D))) : 1;
  splits = std::max<int64_t>(1, std::min(splits, fit));
  const int64_t chunk = ceil_div(keys, splits);
  splits = ceil_div(keys, chunk);
  const dim3 grid{unsigned(splits), unsigned(g.H), unsigned(g.rows)};
  attention_decode_splitk<DPL><<<grid, kWarps * 32, 0, stream>>>(g, qkv, cache, chunk, out, workspace);
  CUDA_CHECK_LAUNCH("attention_decode_splitk");
  if (splits > 1) {
    attention_decode_combine<<<dim3{unsigned(g.H), unsigned(g.rows)}, 128, 0, stream>>>(g, int(splits), workspace,
                                                                                       out);
    CUDA_CHECK_LAUNCH("attention_decode_combine");
  }
}

template <int DPL>
void launch(const Dims& g, bool decode, const float* qkv, const float* cache, float* out, float* workspace,
            size_t workspace_floats, cudaStream_t stream) {
  if (decode)
    launch_decode<DPL>(g, qkv, cache, out, workspace, workspace_floats, stream);
  else
    launch_prefill<DPL>(g, qkv, cache, out, stream);
}

}  // namespace

void kv_append(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, float* cache,
               cudaStream_t stream) {
  check_shape(s, rows, start, "kv_append");
  const Dims g = dims_of(s, rows, start);
  kv_append_rows<<<dim3{unsigned(rows), unsigned(s.heads)}, unsigned(std::min<int64_t>(s.head_dim, 256)), 0,
                   stream>>>(g, qkv, cache);
  CUDA_CHECK_LAUNCH("kv_append_rows");
}

size_t attention_workspace_floats(const AttentionShape& s, int64_t rows) {
  return size_t(rows * s.heads * kMaxSplits * partial_floats(s.head_dim));
}

void attention(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, const float* cache, float* out,
               AttentionPath path, float* workspace, size_t workspace_floats, cudaStream_t stream) {
  check_shape(s, rows, start, "attention");
  const Dims g = dims_of(s, rows, start);
  const bool decode = path == AttentionPath::kDecode || (path == AttentionPath::kAuto && rows <= kDecodeMaxQueries);
  switch ((s.head_dim + 31) / 32) {
    case 1: launch<1>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    case 2: launch<2>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    case 3: launch<3>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    case 4: launch<4>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    case 5: launch<5>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    case 6: launch<6>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    case 7: launch<7>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
    default: launch<8>(g, decode, qkv, cache, out, workspace, workspace_floats, stream); break;
  }
}

}  // namespace gpt::cuda
