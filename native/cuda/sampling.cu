// Next-token sampling on the device, with the semantics of the CPU twin core/sampler.cpp: the
// argmax (lowest id among equal maxima) and its log-softmax for greedy decoding; otherwise
// temperature, then top-k, then top-p over the candidates ordered best first (ties: lower id
// first), and the token where the cumulative mass first exceeds u · mass, walking the candidates
// best first when top-p cut them and in id order otherwise (as the CPU does).
//
// One block of 1024 threads per row of logits (fp32, device memory). Every selection is a radix
// select, most significant byte first, over a 64-bit key that orders candidates exactly as the
// CPU sorts them: (value, descending) then (id, ascending). Masses are summed as fixed-point
// integers (weights ≤ 1 scaled by 2^40), so the result does not depend on the order in which
// threads add, and a fixed u always picks the same token; versus the CPU's double sums a pick can
// differ only where u lies within ~1e-7 of a boundary between two tokens.
//
// Test: tests/cuda-kernels.test.ts (cudaOps.sample: greedy exact; sampled tokens whose reference
// interval contains u). Time: one pass for greedy, three radix selects (8 sweeps each) at most.
#include <cmath>
#include <string>

#include "cuda/common.cuh"
#include "cuda/sampling.cuh"

namespace gpt::cuda {

namespace {

constexpr int kThreads = 1024;
constexpr double kFixedOne = 1099511627776.0;  // 2^40: the fixed-point weight of probability ratio 1

// Larger key = earlier in the CPU's order: higher value, then lower id. −0 counts as +0 (the CPU
// compares values, and they are equal), hence the + 0.0f.
__device__ __forceinline__ uint64_t sort_key(float v, int64_t id) {
  const uint32_t b = __float_as_uint(v + 0.0f);
  const uint32_t ordered = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (uint64_t(ordered) << 32) | uint64_t(0xffffffffu - uint32_t(id));
}

__device__ __forceinline__ int32_t key_id(uint64_t key) { return int32_t(0xffffffffu - uint32_t(key)); }

struct Shared {
  unsigned long long hist[256];
  // pick_in_id_order: the candidates' weight per thread, the thread whose range holds the
  // target, the weight before that range, the target it walks to, and the id it picks.
  unsigned long long range_mass[kThreads];
  unsigned long long owner_before, walk_target;
  int owner, picked;
  unsigned long long best, total, prefix;
  int nan_at;
  float scratch[32];
};

__device__ __forceinline__ unsigned long long weight(float v, float max_logit, float inv_t) {
  return __double2ull_rn(double(expf((v - max_logit) * inv_t)) * kFixedOne);
}

// Σ weight over candidates (key ≥ cand_min), exact.
__device__ unsigned long long candidate_mass(const float* l, int64_t V, uint64_t cand_min, float max_logit,
                                             float inv_t, Shared& sh) {
  if (threadIdx.x == 0) sh.total = 0;
  __syncthreads();
  unsigned long long mine = 0;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
    if (sort_key(l[i], i) >= cand_min) mine += weight(l[i], max_logit, inv_t);
  atomicAdd(&sh.total, mine);
  __syncthreads();
  return sh.total;
}

// The key of the candidate (key ≥ cand_min) at which the cumulative weight, best first, first
// exceeds `target`: Σ_{key' > key} w ≤ target < Σ_{key' ≥ key} w. Weight 1 per candidate when
// kCount (then target = k − 1 gives the k-th best). Called by every thread; returns to all.
template <bool kCount>
__device__ uint64_t radix_select(const float* l, int64_t V, uint64_t cand_min, float max_logit, float inv_t,
                                 unsigned long long target, Shared& sh) {
  uint64_t prefix = 0;
  unsigned long long above = 0;  // thread 0 only: weight of the candidates ranked before the bin
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) sh.hist[b] = 0;
    __syncthreads();
    const uint64_t high = shift == 56 ? 0 : ~0ull << (shift + 8);  // the bytes already chosen
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
      const uint64_t key = sort_key(l[i], i);
      if (key < cand_min || (key & high) != prefix) continue;
      atomicAdd(&sh.hist[(key >> shift) & 255], kCount ? 1ull : weight(l[i], max_logit, inv_t));
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int chosen = -1, last = -1;
      for (int b = 255; b >= 0; --b) {
        if (sh.hist[b] == 0) continue;
        last = b;
        if (target < above + sh.hist[b]) {
          chosen = b;
          break;
        }
        above += sh.hist[b];
      }
      if (chosen < 0) {  // target at or past the total (rounding): the last candidate
        chosen = last;
        above -= sh.hist[last];
      }
      sh.prefix = prefix | (uint64_t(chosen) << shift);
    }
    __syncthreads();
    prefix = sh.prefix;
  }
  return prefix;
}

// The candidate (key ≥ cand_min) at which the cumulative weight, walking ids upward, first
// exceeds `target` — the CPU's walk when no top-p sort has ordered the candidates — or
// `fallback` if there is none. Thread t sums the weights of its own contiguous range of ids; warp
// 0 finds the range holding the target (lane j sums ranges 32j … 32j + 31, a shuffle scan over
// the lanes, a ballot for the first lane past the target, whose 32 ranges that lane walks); the
// range's thread walks its ids. Called by every thread of the kThreads-thread block.
__device__ __forceinline__ int32_t pick_in_id_order(const float* l, int64_t V, uint64_t cand_min, float max_logit, float inv_t,
                                    unsigned long long target, int32_t fallback, Shared& sh) {
  static_assert(kThreads == 32 * 32, "warp 0 scans 32 groups of 32 ranges");
  const int64_t per = (V + kThreads - 1) / kThreads;
  const int64_t begin = min(V, int64_t(threadIdx.x) * per), end = min(V, begin + per);
  unsigned long long mine = 0;
  for (int64_t i = begin; i < end; ++i)
    if (sort_key(l[i], i) >= cand_min) mine += weight(l[i], max_logit, inv_t);
  sh.range_mass[threadIdx.x] = mine;
  if (threadIdx.x == 0) {
    sh.owner = -1;
    sh.picked = fallback;
  }
  __syncthreads();
  if (threadIdx.x < 32) {
    const int lane = int(threadIdx.x);
    unsigned long long group = 0;
#pragma unroll 1  // unrolled, the 32 loads would all be live at once, and spill
    for (int r = 0; r < 32; ++r) group += sh.range_mass[lane * 32 + r];
    unsigned long long through = group;  // inclusive prefix sum over the lanes
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const unsigned long long below = __shfl_up_sync(0xffffffffu, through, o);
      if (lane >= o) through += below;
    }
    const unsigned long long total = __shfl_sync(0xffffffffu, through, 31);
    // Target at or past the total (rounding): the last candidate with weight.
    const unsigned long long t = target < total ? target : total - 1;
    const unsigned hit = __ballot_sync(0xffffffffu, total > 0 && t < through);
    if (hit != 0 && lane == __ffs(hit) - 1) {
      unsigned long long before = through - group;
#pragma unroll 1
      for (int r = 0; r < 32; ++r) {
        const unsigned long long m = sh.range_mass[lane * 32 + r];
        if (t < before + m) {
          sh.owner = lane * 32 + r;
          sh.owner_before = before;
          sh.walk_target = t;
          break;
        }
        before += m;
      }
    }
  }
  __syncthreads();
  if (int(threadIdx.x) == sh.owner) {
    unsigned long long cum = sh.owner_before;
    for (int64_t i = begin; i < end; ++i) {
      if (sort_key(l[i], i) < cand_min) continue;
      cum += weight(l[i], max_logit, inv_t);
      if (cum > sh.walk_target) {
        sh.picked = int(i);
        break;
      }
    }
  }
  __syncthreads();
  return sh.picked;
}

__global__ void __launch_bounds__(kThreads) sample_row(const float* l, int64_t V, float temperature, int64_t top_k,
                                                      float top_p, double u, DeviceSampled* result) {
  __shared__ Shared sh;
  if (threadIdx.x == 0) {
    sh.best = 0;
    sh.nan_at = 0x7fffffff;
  }
  __syncthreads();
  // The best key (argmax, lowest id on ties) and the first NaN.
  unsigned long long best = 0;
  int nan_at = 0x7fffffff;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = l[i];
    if (isnan(v)) nan_at = min(nan_at, int(i));
    else best = max(best, (unsigned long long)sort_key(v, i));
  }
  atomicMax(&sh.best, best);
  atomicMin(&sh.nan_at, nan_at);
  __syncthreads();
  if (sh.nan_at != 0x7fffffff) {  // (then sh.best may be no key at all)
    if (threadIdx.x == 0) *result = {-1, 0.0f, sh.nan_at, NAN};
    return;
  }
  const int32_t best_id = key_id(sh.best);
  const float max_logit = l[best_id];
  if (!isfinite(max_logit)) {
    if (threadIdx.x == 0) *result = {-1, 0.0f, -1, max_logit};
    return;
  }
  float z = 0.0f;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) z += expf(l[i] - max_logit);
  const float log_z = max_logit + logf(block_sum(z, sh.scratch));

  int32_t token = best_id;
  // A temperature so small that 1 / T overflows is greedy, as on the CPU.
  if (temperature > 0.0f && isfinite(1.0f / temperature)) {
    const float inv_t = 1.0f / temperature;
    uint64_t cand_min = 0;
    if (top_k > 0 && top_k < V) cand_min = radix_select<true>(l, V, 0, max_logit, inv_t, top_k - 1, sh);
    if (top_p < 1.0f) {
      const double mass = double(candidate_mass(l, V, cand_min, max_logit, inv_t, sh));
      const double need = ceil(double(top_p) * mass);  // keep the prefix whose mass reaches need
      cand_min = radix_select<false>(l, V, cand_min, max_logit, inv_t,
                                     need >= 1.0 ? (unsigned long long)(need) - 1 : 0ull, sh);
    }
    const double mass = double(candidate_mass(l, V, cand_min, max_logit, inv_t, sh));
    const auto target = (unsigned long long)floor(u * mass);
    // The CPU walks its candidates best first after a top-p sort, and in id order otherwise.
    token = top_p < 1.0f ? key_id(radix_select<false>(l, V, cand_min, max_logit, inv_t, target, sh))
                         : pick_in_id_order(l, V, cand_min, max_logit, inv_t, target, best_id, sh);
    if (token < 0 || token >= V) token = best_id;  // unreachable with the best token's weight 2^40 in the mass
  }
  if (threadIdx.x == 0) *result = {token, l[token] - log_z, -1, max_logit};
}

}  // namespace

void sample(const float* logits, int64_t vocab, const SamplingParams& params, double u, DeviceSampled* result,
            cudaStream_t stream) {
  GPT_REQUIRE(vocab > 0 && vocab <= 0x7fffffff, "sample: vocab " + std::to_string(vocab) + " out of range");
  GPT_REQUIRE(u >= 0.0 && u < 1.0, "sample: u must be in [0, 1)");
  sample_row<<<1, kThreads, 0, stream>>>(logits, vocab, params.temperature, params.top_k, params.top_p, u, result);
  CUDA_CHECK_LAUNCH("sample_row");
}

Sampled sampled_or_throw(const DeviceSampled& r) {
  if (r.nan_at >= 0) throw std::invalid_argument("logits contain NaN at id " + std::to_string(r.nan_at));
  if (r.token < 0)
    throw std::invalid_argument("logits have no finite maximum (largest is " + std::to_string(r.max_logit) + ")");
  return {r.token, r.logprob};
}

}  // namespace gpt::cuda
