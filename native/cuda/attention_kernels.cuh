// What the attention kernels share (attention.cu dispatches, attention_prefill.cu and
// attention_decode.cu hold the kernels): the launch geometry, reading a head's keys and values
// across the cache and this call's qkv rows (the fused append), and the launch description.
// Internal to native/cuda/attention*.cu; the public launcher is in attention.cuh.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/common.cuh"

namespace gpt::cuda::attention_detail {

constexpr int kWarps = 4;           // per block, both kernels
constexpr int kMaxSplits = 32;      // decode: most key splits per query
constexpr int64_t kMinSplitKeys = 64;

// One decode partial result: max score, sum of exp(score − max), then D unnormalised outputs.
__host__ __device__ inline int64_t partial_floats(int64_t D) { return D + 2; }

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

// Head-dim slices per lane the kernels are built for: D ≤ 32·DPL. Head dims between take the next
// one up (lanes past D idle), which keeps the build to 3 × 3 instances per kernel.
constexpr int dpl_for(int64_t head_dim) { return head_dim <= 64 ? 2 : head_dim <= 128 ? 4 : 8; }

// Defined, and instantiated for DPL 2, 4, 8 and the three cache types, in attention_prefill.cu
// and attention_decode.cu.
template <int DPL, typename T>
void launch_prefill(const Launch& l);
template <int DPL, typename T>
void launch_decode(const Launch& l);

#define GPT_ATTENTION_INSTANTIATE(fn)                         \
  template void fn<2, float>(const Launch&);                  \
  template void fn<4, float>(const Launch&);                  \
  template void fn<8, float>(const Launch&);                  \
  template void fn<2, __half>(const Launch&);                 \
  template void fn<4, __half>(const Launch&);                 \
  template void fn<8, __half>(const Launch&);                 \
  template void fn<2, __nv_bfloat16>(const Launch&);          \
  template void fn<4, __nv_bfloat16>(const Launch&);          \
  template void fn<8, __nv_bfloat16>(const Launch&);

}  // namespace gpt::cuda::attention_detail
