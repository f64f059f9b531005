// Causal multi-head self-attention over the KV cache, without a T×T score matrix, appending this
// call's keys and values to the cache as it goes.
//
// Layout (see attention.cuh): qkv [rows, 3C]; one layer's cache is k[H][capacity][D] followed by
// v[H][capacity][D], in F32, F16 or BF16 (template parameter T: widened with to_f32 on read,
// rounded to nearest on write); out [rows, C]. Scores, softmax and sums are fp32 throughout. Head
// dims: any multiple of 16 up to 256; each lane of a warp owns the dims d = lane + 32·p,
// p < DPL = ceil(D / 32), the other template parameter.
//
// The append is fused: a key or value at position p < start is read from the cache, at p ≥ start
// from qkv row p − start (HeadKv below), and each new row is written into the cache by exactly one
// block, which no block of the call reads (they read the cache only below start).
// The start position is a kernel argument, or, for a launch recorded once in a CUDA graph and
// replayed at every decode step, an int32 in device memory that the kernels read at entry (then
// the host's start is an upper bound, which sizes the decode split grid).
//
//   attention_prefill_flash   block = 16 queries of one head, 4 warps × 4 queries; key/value
//                             tiles of 32 in shared memory; lane j scores key j, the online
//                             softmax keeps (max, sum, out) per query in registers. Appends the
//                             k and v of its own 16 rows for its head.
//   attention_decode_splitk   flash-decoding: block = (split, head, query); its warps walk a
//                             chunk of keys one key per step (lanes over D), merge in shared
//                             memory; attention_decode_combine merges the splits. A split whose
//                             chunk starts past its query's position (the grid was sized for a
//                             later start) writes a neutral partial. Split 0 appends the query's
//                             k and v for its head.
//
// Test: tests/cuda-kernels.test.ts (cudaOps.attention: both paths, D = 16 … 256, odd starts and
// lengths, F32 / F16 / BF16 caches, start from device memory, against a double reference that
// sees the cache rounded as the kernels do). Time: bench harness (to come).
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
  int64_t rows;
  int64_t start;                // the start position, or its upper bound when device_start is set
  const int32_t* device_start;  // or null
  float scale;                  // 1 / sqrt(D)
};

// This call's first position.
__device__ __forceinline__ int64_t start_of(const Dims& g) {
  return g.device_start ? int64_t(*g.device_start) : g.start;
}

__device__ __forceinline__ void store_as(float* p, float x) { *p = x; }
__device__ __forceinline__ void store_as(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store_as(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }

template <int DPL, typename U>
__device__ __forceinline__ void load_dims(const U* row, int64_t D, int lane, float (&x)[DPL]) {
#pragma unroll
  for (int i = 0; i < DPL; ++i) {
    const int64_t d = lane + 32 * i;
    x[i] = d < D ? to_f32(row[d]) : 0.0f;
  }
}

// One head's keys and values during a call: position p < start is in the cache, p ≥ start is
// this call's row p − start of qkv (not in the cache yet: append puts it there).
template <typename T>
struct HeadKv {
  T* k_cache;          // this head's k[capacity][D]
  T* v_cache;          // this head's v[capacity][D]
  const float* k_new;  // this head's k in qkv row 0; row t is row_stride floats further
  const float* v_new;
  int64_t start, D, row_stride;

  __device__ HeadKv(const Dims& g, const float* qkv, T* cache, int64_t h, int64_t start)
      : k_cache(cache + h * g.cap * g.D),
        v_cache(k_cache + g.H * g.cap * g.D),
        k_new(qkv + g.C + h * g.D),
        v_new(k_new + g.C),
        start(start),
        D(g.D),
        row_stride(3 * g.C) {}

  // Dim d of key (value) p.
  __device__ float k(int64_t p, int64_t d) const {
    return p < start ? to_f32(k_cache[p * D + d]) : k_new[(p - start) * row_stride + d];
  }
  __device__ float v(int64_t p, int64_t d) const {
    return p < start ? to_f32(v_cache[p * D + d]) : v_new[(p - start) * row_stride + d];
  }
  // The dims d = lane + 32·i of key (value) p into x[i], zero past D.
  template <int DPL>
  __device__ void k_row(int64_t p, int lane, float (&x)[DPL]) const {
    if (p < start) load_dims(k_cache + p * D, D, lane, x);
    else load_dims(k_new + (p - start) * row_stride, D, lane, x);
  }
  template <int DPL>
  __device__ void v_row(int64_t p, int lane, float (&x)[DPL]) const {
    if (p < start) load_dims(v_cache + p * D, D, lane, x);
    else load_dims(v_new + (p - start) * row_stride, D, lane, x);
  }
  // Copies dim d of this call's row t into the cache, at position start + t.
  __device__ void append(int64_t t, int64_t d) const {
    store_as(k_cache + (start + t) * D + d, k_new[t * row_stride + d]);
    store_as(v_cache + (start + t) * D + d, v_new[t * row_stride + d]);
  }
};

constexpr int kQueries = 16;  // per prefill block
constexpr int kWarps = 4;
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

constexpr int kMaxSplits = 32;
constexpr int64_t kMinSplitKeys = 64;

// One partial result: max score, sum of exp(score − max), then D unnormalised outputs.
__host__ __device__ inline int64_t partial_floats(int64_t D) { return D + 2; }

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

// ---------------------------------------------------------------------------------------------
// Launchers

void check_shape(const AttentionShape& s, int64_t rows, int64_t start, const char* what) {
  const std::string w = std::string(what) + ": ";
  GPT_REQUIRE(s.heads > 0 && rows > 0 && start >= 0, w + "empty shape or negative start");
  GPT_REQUIRE(s.head_dim % 16 == 0 && s.head_dim >= 16 && s.head_dim <= 256,
              w + "head_dim " + std::to_string(s.head_dim) + " is not a multiple of 16 in 16 … 256");
  GPT_REQUIRE(start + rows <= s.capacity, w + "positions up to " + std::to_string(start + rows) +
                                              " exceed the cache capacity " + std::to_string(s.capacity));
  GPT_REQUIRE(s.heads <= 65535 && rows <= 65535, w + "heads and rows must each be at most 65535");
}

// A launch, less its two template parameters (head-dim slices DPL and cache element type T).
struct Launch {
  Dims g;
  const float* qkv;
  void* cache;
  float* out;
  bool decode;
  float* workspace;
  size_t workspace_floats;
  cudaStream_t stream;
};

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
  switch ((s.head_dim + 31) / 32) {
    case 1: launch<1>(l, call.cache_dtype); break;
    case 2: launch<2>(l, call.cache_dtype); break;
    case 3: launch<3>(l, call.cache_dtype); break;
    case 4: launch<4>(l, call.cache_dtype); break;
    case 5: launch<5>(l, call.cache_dtype); break;
    case 6: launch<6>(l, call.cache_dtype); break;
    case 7: launch<7>(l, call.cache_dtype); break;
    default: launch<8>(l, call.cache_dtype); break;
  }
}

}  // namespace gpt::cuda
