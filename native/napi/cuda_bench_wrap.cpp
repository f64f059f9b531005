#include "napi/cuda_bench_wrap.h"

#include "napi/spec.h"

#if GPT_CUDA_ENABLED
#include <string>

#include "cuda/kernel_timing.h"
#include "napi/cuda_call.h"
#include "napi/fields.h"
#endif

namespace gpt::napi {

namespace {

#if GPT_CUDA_ENABLED

// ---------------------------------------------------------------------------------------------
// Arguments (napi/fields.h), checked as bench.* checks them

cuda::TimingPlan timing_args(Napi::Env env, const Napi::Object& a) {
  cuda::TimingPlan t{non_negative_field(env, a, "warmup"), positive_field(env, a, "iterations"),
                     number_field(a, "maxSeconds")};
  if (!(t.max_seconds > 0)) throw Napi::RangeError::New(env, "maxSeconds must be a positive number");
  return t;
}

Napi::Object kernel_time(Napi::Env env, const cuda::KernelTime& t) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("medianSeconds", t.median_seconds);
  out.Set("minSeconds", t.min_seconds);
  out.Set("iterations", double(t.iterations));
  return out;
}

// Runs `body` with the options object, on a machine with a CUDA device.
template <typename Body>
Napi::Value with_device(const Napi::CallbackInfo& info, Body body) {
  return with_cuda_device(info, "cudaBench", body);
}

// ---------------------------------------------------------------------------------------------
// Kernels

// matmul({rows, k, n, dtype, coldWeights, warmup, iterations, maxSeconds})
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) -> Napi::Value {
    const int64_t rows = positive_field(env, a, "rows"), K = positive_field(env, a, "k"), N = positive_field(env, a, "n");
    const cuda::KernelTime t = cuda::time_matmul(rows, K, N, dtype_name_field(env, a, "dtype"),
                                                 boolean_field(env, a, "coldWeights"), timing_args(env, a));
    Napi::Object out = kernel_time(env, t);
    out.Set("weightCopies", double(t.weight_copies));
    return out;
  });
}

// lmHead({rows, vocab, c, dtype, coldWeights, warmup, iterations, maxSeconds})
Napi::Value LmHead(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) -> Napi::Value {
    const int64_t rows = positive_field(env, a, "rows"), V = positive_field(env, a, "vocab"),
                  C = positive_field(env, a, "c");
    const cuda::KernelTime t = cuda::time_lm_head(rows, C, V, dtype_name_field(env, a, "dtype"),
                                                  boolean_field(env, a, "coldWeights"), timing_args(env, a));
    Napi::Object out = kernel_time(env, t);
    out.Set("weightCopies", double(t.weight_copies));
    return out;
  });
}

// attention({heads, kvHeads?, headDim, capacity, rows, start, cacheDtype, warmup, iterations, maxSeconds}):
// `heads` query heads over `kvHeads` KV heads (default `heads`; a divisor of it).
Napi::Value Attention(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) -> Napi::Value {
    const int64_t heads = positive_field(env, a, "heads");
    const int64_t kv_heads = a.Get("kvHeads").IsUndefined() ? heads : positive_field(env, a, "kvHeads");
    if (heads % kv_heads != 0)
      throw Napi::RangeError::New(env, "heads (" + std::to_string(heads) + ") must be a multiple of kvHeads (" +
                                           std::to_string(kv_heads) + ")");
    const cuda::AttentionShape s{heads, kv_heads, positive_field(env, a, "headDim")};
    const int64_t capacity = positive_field(env, a, "capacity");
    const int64_t rows = positive_field(env, a, "rows"), start = non_negative_field(env, a, "start");
    if (start + rows > capacity)
      throw Napi::RangeError::New(env, "start + rows (" + std::to_string(start + rows) + ") exceeds capacity " +
                                           std::to_string(capacity));
    return kernel_time(env, cuda::time_attention(s, capacity, rows, start, dtype_name_field(env, a, "cacheDtype"),
                                                 timing_args(env, a)));
  });
}

// memoryRead({bytes, passes}) → {bytes, passes, bestGBs, medianGBs, checksum}
Napi::Value MemoryRead(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) -> Napi::Value {
    const int64_t bytes = positive_field(env, a, "bytes"), passes = positive_field(env, a, "passes");
    const cuda::MemoryReadTime t = cuda::time_memory_read(size_t(bytes), passes);
    Napi::Object out = Napi::Object::New(env);
    out.Set("bytes", double(bytes / 16 * 16));
    out.Set("passes", double(passes));
    out.Set("bestGBs", t.best_gbs);
    out.Set("medianGBs", t.median_gbs);
    out.Set("checksum", t.checksum);
    return out;
  });
}

#else

Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "gpt-cuda: cudaBench needs the CUDA backend, and this binary was built without it "
                         "(GPT_CUDA=OFF, or no nvcc >= 12 at build time)");
}
#define Matmul Unavailable
#define LmHead Unavailable
#define Attention Unavailable
#define MemoryRead Unavailable

#endif

}  // namespace

Napi::Object CreateCudaBench(Napi::Env env) {
  Napi::Object bench = Napi::Object::New(env);
  bench.Set("matmul", Napi::Function::New<Matmul>(env, "matmul"));
  bench.Set("lmHead", Napi::Function::New<LmHead>(env, "lmHead"));
  bench.Set("attention", Napi::Function::New<Attention>(env, "attention"));
  bench.Set("memoryRead", Napi::Function::New<MemoryRead>(env, "memoryRead"));
  return bench;
}

}  // namespace gpt::napi
