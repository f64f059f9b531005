// Times single CUDA kernels at a model's shapes, for `npm run bench -- --device cuda` (through
// napi/cuda_bench_wrap.cpp): inputs, weights and caches are device buffers of random non-zero
// values, the launchers run with path auto, as the model runs them, on the current device.
// Plain C++ types only, so callers need no CUDA headers.
// Errors: std::invalid_argument for shapes a kernel cannot take, std::runtime_error for CUDA.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "cuda/options.h"

namespace gpt::cuda {

// `warmup` untimed launches, then up to `iterations` timed ones, ending early once `max_seconds`
// of wall time have gone by (checked after each batch of up to 32 launches).
struct TimingPlan {
  int64_t warmup;
  int64_t iterations;
  double max_seconds;
};

// Each timed launch is bracketed by its own pair of CUDA events (resolution about 0.5 µs).
struct KernelTime {
  double median_seconds;
  double min_seconds;
  int64_t iterations;     // timed launches made
  int64_t weight_copies;  // copies of the weight the launches cycled through (1: L2-warm)
};

// out[rows, n] = in[rows, k] · w[k, n] + bias[n] (epilogue store). With `cold_weights` the weight
// is cycled through copies spanning twice the device's L2 cache, so every launch reads it from
// device memory, as a decode step does; otherwise one copy is reused.
KernelTime time_matmul(int64_t rows, int64_t k, int64_t n, DType dtype, bool cold_weights, const TimingPlan& plan);

// logits[rows, vocab] = in[rows, c] · wte[vocab, c]ᵀ; `cold_weights` as for time_matmul.
KernelTime time_lm_head(int64_t rows, int64_t c, int64_t vocab, DType dtype, bool cold_weights,
                        const TimingPlan& plan);

// One layer's KV append and attention (s.q_heads query heads over s.kv_heads KV heads) for `rows`
// new positions of one sequence after `start` cached ones, its blocks scattered over a pool of `capacity` positions, in `cache_dtype`.
KernelTime time_attention(const AttentionShape& s, int64_t capacity, int64_t rows, int64_t start, DType cache_dtype,
                          const TimingPlan& plan);

// A STREAM-style read of `bytes` of device memory (16-byte loads, summed so they are not
// optimised away), `passes` times, each pass between CUDA events: the bandwidth a decode step,
// which reads every weight once, can at best reach on this GPU.
struct MemoryReadTime {
  double best_gbs, median_gbs;  // 10⁹ bytes per second
  double checksum;              // the sum of the words read; meaningless otherwise
};
MemoryReadTime time_memory_read(size_t bytes, int64_t passes);

}  // namespace gpt::cuda
