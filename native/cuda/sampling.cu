// Next-token sampling on the device, with the semantics of the CPU twin core/sampler.cpp: the
// raw logits adjusted first (adjust_rows: bias, repetition penalty, penalty, each operation
// rounded as the CPU rounds it); then the argmax (lowest id among equal maxima) for greedy
// decoding; otherwise temperature, then top-k, then top-p over the candidates ordered best first
// (ties: lower id first), then min-p, and the token where the cumulative mass first exceeds
// u · mass, walking the candidates best first when top-p cut them and in id order otherwise (as
// the CPU does). The logprob of the pick and the top alternatives come from the raw logits.
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
#include <stdexcept>
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
  // The top alternatives' keys, gathered in any order, then sorted by thread 0.
  unsigned long long top_keys[kMaxTopLogprobs];
  int top_found;
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

// The best key of l (argmax, lowest id on ties) into sh.best and the first NaN into sh.nan_at.
__device__ void scan_row(const float* l, int64_t V, Shared& sh) {
  if (threadIdx.x == 0) {
    sh.best = 0;
    sh.nan_at = 0x7fffffff;
  }
  __syncthreads();
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
}

// The n best raw logits (ties: lower id first), best first, with their logprobs, into *result.
__device__ void top_alternatives(const float* raw, int64_t V, int n, float max_logit, float log_z, Shared& sh,
                                 DeviceSampled* result) {
  n = int(min(int64_t(n), V));
  if (n <= 0) {
    if (threadIdx.x == 0) result->top_count = 0;
    return;
  }
  // The n-th best key (a count select: weight 1 each), then every key at or above it: exactly n.
  const uint64_t nth = radix_select<true>(raw, V, 0, max_logit, 1.0f, (unsigned long long)(n - 1), sh);
  if (threadIdx.x == 0) sh.top_found = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
    const uint64_t key = sort_key(raw[i], i);
    if (key >= nth) {
      const int at = atomicAdd(&sh.top_found, 1);
      if (at < kMaxTopLogprobs) sh.top_keys[at] = key;
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int count = min(sh.top_found, n);
    for (int i = 1; i < count; ++i)  // insertion sort, best (largest key) first
      for (int j = i; j > 0 && sh.top_keys[j] > sh.top_keys[j - 1]; --j) {
        const unsigned long long t = sh.top_keys[j];
        sh.top_keys[j] = sh.top_keys[j - 1];
        sh.top_keys[j - 1] = t;
      }
    result->top_count = count;
    for (int i = 0; i < count; ++i) {
      const int32_t id = key_id(sh.top_keys[i]);
      result->top_ids[i] = id;
      result->top_logprobs[i] = raw[id] - log_z;
    }
  }
}

__global__ void __launch_bounds__(kThreads) sample_row(const float* raw, const float* l, int64_t V, float temperature,
                                                      int64_t top_k, float top_p, float min_p, double log_min_p,
                                                      double u, int top_n, DeviceSampled* result) {
  __shared__ Shared sh;
  // The raw logits: their checks, their maximum and normaliser (for the logprobs).
  scan_row(raw, V, sh);
  if (sh.nan_at != 0x7fffffff) {  // (then sh.best may be no key at all)
    if (threadIdx.x == 0) *result = {-1, 0.0f, sh.nan_at, NAN, 0, 0, {}, {}};
    return;
  }
  const float raw_max = raw[key_id(sh.best)];
  if (!isfinite(raw_max)) {
    if (threadIdx.x == 0) *result = {-1, 0.0f, -1, raw_max, 0, 0, {}, {}};
    return;
  }
  float z = 0.0f;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) z += expf(raw[i] - raw_max);
  const float log_z = raw_max + logf(block_sum(z, sh.scratch));
  top_alternatives(raw, V, top_n, raw_max, log_z, sh, result);

  // The logits the pick is made from (adjusted, or the raw ones again).
  if (l != raw) {
    scan_row(l, V, sh);
    if (sh.nan_at != 0x7fffffff) {
      if (threadIdx.x == 0) *result = {-1, 0.0f, sh.nan_at, NAN, 1, 0, {}, {}};
      return;
    }
  }
  const int32_t best_id = key_id(sh.best);
  const float max_logit = l[best_id];
  if (!isfinite(max_logit)) {
    if (threadIdx.x == 0) *result = {-1, 0.0f, -1, max_logit, 1, 0, {}, {}};
    return;
  }

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
    if (min_p > 0.0f) {
      // Keep logits ≥ max + T · ln(min_p) (min_p_floor in core/sampler.cpp): every key of a value at
      // or above the smallest float at or above that floor.
      const float floor_value = __double2float_ru(fma(double(temperature), log_min_p, double(max_logit)));
      const uint64_t floor_key = sort_key(floor_value, 0) & ~uint64_t(0xffffffffu);  // any id of that value
      if (floor_key > cand_min) cand_min = floor_key;
    }
    const double mass = double(candidate_mass(l, V, cand_min, max_logit, inv_t, sh));
    const auto target = (unsigned long long)floor(u * mass);
    // The CPU walks its candidates best first after a top-p sort, and in id order otherwise.
    token = top_p < 1.0f ? key_id(radix_select<false>(l, V, cand_min, max_logit, inv_t, target, sh))
                         : pick_in_id_order(l, V, cand_min, max_logit, inv_t, target, best_id, sh);
    if (token < 0 || token >= V) token = best_id;  // unreachable with the best token's weight 2^40 in the mass
  }
  if (threadIdx.x == 0) {
    result->token = token;
    result->logprob = raw[token] - log_z;
    result->nan_at = -1;
    result->max_logit = max_logit;
    result->adjusted = l != raw;
  }
}

// adjusted[i] = raw[i] for every id (copied before), then the adjustments, one thread each.
__global__ void adjust_rows(const float* raw, const DeviceAdjustment* adj, int64_t count, float repetition_penalty,
                            float* adjusted) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const DeviceAdjustment a = adj[i];
  // adjusted_logit (core/logit_adjust.cpp), each operation rounded on its own.
  float v = __fadd_rn(raw[a.id], a.bias);
  if (a.repeated) v = v > 0.0f ? __fdiv_rn(v, repetition_penalty) : __fmul_rn(v, repetition_penalty);
  adjusted[a.id] = __fsub_rn(v, a.penalty);
}

}  // namespace

void device_adjustments(const SampleRequest& request, int64_t vocab, DeviceAdjustment* out) {
  size_t i = 0;
  for (const LogitAdjustment& a : request.adjustments) {
    if (a.id < 0 || a.id >= vocab)
      throw std::invalid_argument("a logit adjustment names id " + std::to_string(a.id) + ", outside the vocabulary of " +
                                  std::to_string(vocab));
    out[i++] = DeviceAdjustment{a.id, a.repeated ? 1 : 0, a.bias, a.penalty};
  }
}

void sample(const float* logits, int64_t vocab, const SampleRequest& request, const DeviceAdjustment* adjustments,
            float* adjusted, DeviceSampled* result, cudaStream_t stream) {
  GPT_REQUIRE(vocab > 0 && vocab <= 0x7fffffff, "sample: vocab " + std::to_string(vocab) + " out of range");
  GPT_REQUIRE(request.u >= 0.0 && request.u < 1.0, "sample: u must be in [0, 1)");
  GPT_REQUIRE(request.top_logprobs >= 0 && request.top_logprobs <= kMaxTopLogprobs, "sample: top_logprobs out of range");
  const SamplingParams& p = request.params;
  const float* l = logits;
  const int64_t count = int64_t(request.adjustments.size());
  if (count > 0) {
    GPT_REQUIRE(adjustments != nullptr && adjusted != nullptr, "sample: adjustments need device buffers");
    CUDA_CHECK(cudaMemcpyAsync(adjusted, logits, size_t(vocab) * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    constexpr int kAdjustThreads = 256;
    adjust_rows<<<unsigned((count + kAdjustThreads - 1) / kAdjustThreads), kAdjustThreads, 0, stream>>>(
        logits, adjustments, count, request.repetition_penalty, adjusted);
    CUDA_CHECK_LAUNCH("adjust_rows");
    l = adjusted;
  }
  // ln(min_p) on the host in double, as the CPU takes it (min_p_floor).
  const double log_min_p = p.min_p > 0.0f ? std::log(double(p.min_p)) : 0.0;
  sample_row<<<1, kThreads, 0, stream>>>(logits, l, vocab, p.temperature, p.top_k, p.top_p, p.min_p, log_min_p,
                                         request.u, request.top_logprobs, result);
  CUDA_CHECK_LAUNCH("sample_row");
}

Sampled sampled_or_throw(const DeviceSampled& r) {
  const std::string which = r.adjusted ? "adjusted " : "";
  if (r.nan_at >= 0) throw std::invalid_argument(which + "logits contain NaN at id " + std::to_string(r.nan_at));
  if (r.token < 0)
    throw std::invalid_argument(which + "logits have no finite maximum (largest is " + std::to_string(r.max_logit) + ")");
  Sampled s{r.token, r.logprob};
  s.top_count = r.top_count;
  for (int i = 0; i < r.top_count && i < kMaxTopLogprobs; ++i) {
    s.top_ids[size_t(i)] = r.top_ids[i];
    s.top_logprobs[size_t(i)] = r.top_logprobs[i];
  }
  return s;
}

}  // namespace gpt::cuda
