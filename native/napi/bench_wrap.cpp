#include "napi/bench_wrap.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/thread_pool.h"
#include "core/tile_layout.h"
#include "cpu/attention.h"
#include "cpu/matmul.h"
#include "cpu/panels.h"
#include "napi/fields.h"
#include "napi/spec.h"

namespace gpt::napi {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---------------------------------------------------------------------------------------------
// Arguments

// How a kernel is timed: `warmup` untimed calls, then up to `iterations` timed ones, stopping
// early once `maxSeconds` have gone by (after at least one).
struct Timing {
  int64_t warmup;
  int64_t iterations;
  double max_seconds;
};

Timing timing_args(Napi::Env env, const Napi::Object& a) {
  Timing t{non_negative_field(env, a, "warmup"), positive_field(env, a, "iterations"), number_field(a, "maxSeconds")};
  if (!(t.max_seconds > 0)) throw Napi::RangeError::New(env, "maxSeconds must be a positive number");
  return t;
}

// ---------------------------------------------------------------------------------------------
// Inputs: seeded, non-zero random values (|x| in [scale/4, scale]), and buffers aligned to
// cache lines.

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float nonzero(float scale) {
    uint64_t r = next();
    float u = float(r >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    float magnitude = scale * (0.25f + 0.75f * u);
    return (r & 1) ? -magnitude : magnitude;
  }

 private:
  uint64_t state_;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<unsigned char, FreeDeleter>;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

Buffer aligned_buffer(Napi::Env env, size_t bytes) {
  void* p = std::aligned_alloc(64, round_up(std::max<size_t>(bytes, 1), 64));
  if (!p) throw Napi::Error::New(env, "out of memory allocating " + std::to_string(bytes) + " bytes");
  return Buffer(static_cast<unsigned char*>(p));
}

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.nonzero(scale);
  return v;
}

// `copies` copies of one random weight, each starting on a cache line. Cycling through copies
// whose total exceeds the last-level cache makes every call read its weight from DRAM, as a
// decode step does (the whole model is far larger than the cache); one copy measures a warm cache.
struct WeightCopies {
  Buffer memory;
  size_t stride = 0;
  int64_t copies = 1;
  DType dtype = DType::F32;

  WeightView view(int64_t i, std::vector<int64_t> shape) const {
    WeightView w;
    w.data = memory.get() + size_t(i % copies) * stride;
    w.dtype = dtype;
    w.shape = std::move(shape);
    return w;
  }
};

WeightCopies random_weight(Napi::Env env, int64_t numel, DType dtype, int64_t cold_bytes, uint64_t seed) {
  WeightCopies w;
  w.dtype = dtype;
  const size_t bytes = size_t(numel) * dtype_size(dtype);
  w.stride = round_up(bytes, 64);
  w.copies = std::max<int64_t>(1, int64_t((size_t(cold_bytes) + bytes - 1) / bytes));
  w.memory = aligned_buffer(env, w.stride * size_t(w.copies));
  Rng rng(seed);
  unsigned char* first = w.memory.get();
  // GPT-2's weights are of order 0.02; any normal, non-zero values would do.
  for (int64_t i = 0; i < numel; ++i) {
    float x = rng.nonzero(0.05f);
    if (dtype == DType::F32) reinterpret_cast<float*>(first)[i] = x;
    else if (dtype == DType::F16) reinterpret_cast<uint16_t*>(first)[i] = f32_to_f16(x);
    else reinterpret_cast<uint16_t*>(first)[i] = f32_to_bf16(x);
  }
  for (int64_t c = 1; c < w.copies; ++c) std::memcpy(first + size_t(c) * w.stride, first, bytes);
  return w;
}

// ---------------------------------------------------------------------------------------------
// The timing loop

Napi::Object time_kernel(Napi::Env env, const Timing& t, const std::function<void(int64_t)>& body) {
  int64_t call = 0;
  for (int64_t i = 0; i < t.warmup; ++i) body(call++);
  std::vector<double> samples;
  const Clock::time_point start = Clock::now();
  while (int64_t(samples.size()) < t.iterations) {
    const Clock::time_point t0 = Clock::now();
    body(call++);
    samples.push_back(seconds_since(t0));
    if (seconds_since(start) > t.max_seconds) break;
  }
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  const double median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("medianSeconds", median);
  out.Set("minSeconds", samples.front());
  out.Set("iterations", double(n));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kernels

// matmul({rows, k, n, dtype, threads, coldBytes, compute?, warmup, iterations, maxSeconds})
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t rows = positive_field(env, a, "rows"), K = positive_field(env, a, "k"), N = positive_field(env, a, "n");
  const DType stored = dtype_name_field(env, a, "dtype");
  // compute "bfloat16": the weight as the CPU backend keeps it then, bf16 in AMX tiles whatever the
  // checkpoint's dtype (core/tile_layout.h, padding included).
  const bool tiles = bf16_compute_field(env, a);
  if (tiles) require_amx(env);
  const DType dtype = tiles ? DType::BF16 : stored;
  const Timing timing = timing_args(env, a);
  WeightCopies w = random_weight(env, tiles ? tile_elements(K, N) : K * N, dtype, non_negative_field(env, a, "coldBytes"), 1);
  std::vector<float> in = random_floats(size_t(rows * K), 2);
  std::vector<float> bias_data = random_floats(size_t(N), 3, 0.1f);
  std::vector<float> out(size_t(rows * N));
  WeightView bias;
  bias.data = bias_data.data();
  bias.shape = {N};
  ThreadPool pool(int(positive_field(env, a, "threads")));
  // As the CPU backend keeps a matmul weight: in column panels for this pool (cpu/panels.h). The
  // values are random bytes either way, so the copies need no packing, only the layout's view.
  const int64_t panel = cpu::panel_columns(N, pool.size());
  Napi::Object result = time_kernel(env, timing, [&](int64_t i) {
    WeightView view = w.view(i, {K, N});
    view.panel = tiles ? 0 : panel;
    view.tiles = tiles;
    cpu::matmul(pool, in.data(), rows, view, bias, Epilogue::kStore, out.data());
  });
  result.Set("weightCopies", double(w.copies));
  return result;
}

// lmHead({rows, vocab, c, dtype, threads, coldBytes, warmup, iterations, maxSeconds}): the LM head
// over `rows` rows, as the CPU backend computes it.
Napi::Value LmHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t rows = positive_field(env, a, "rows"), V = positive_field(env, a, "vocab"),
                C = positive_field(env, a, "c");
  const DType dtype = dtype_name_field(env, a, "dtype");
  const Timing timing = timing_args(env, a);
  WeightCopies w = random_weight(env, V * C, dtype, non_negative_field(env, a, "coldBytes"), 4);
  std::vector<float> in = random_floats(size_t(rows * C), 5);
  std::vector<float> out(size_t(rows * V));
  ThreadPool pool(int(positive_field(env, a, "threads")));
  // As the CPU backend runs its LM head: the table transposed in panels (CpuBackend::adopt_table),
  // a matrix product; random bytes either way, so only the view changes.
  const int64_t panel = cpu::panel_columns(V, pool.size());
  const WeightView no_bias;
  Napi::Object result = time_kernel(env, timing, [&](int64_t i) {
    WeightView table = w.view(i, {C, V});
    table.panel = panel;
    cpu::matmul(pool, in.data(), rows, table, no_bias, Epilogue::kStore, out.data());
  });
  result.Set("weightCopies", double(w.copies));
  return result;
}

// attention({heads, kvHeads?, headDim, capacity, rows, start, threads, warmup, iterations, maxSeconds}):
// one layer's kv_append + attention for `rows` new positions of one sequence after `start`
// cached ones, its blocks scattered over a pool of `capacity` positions as a block pool leaves them.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t heads = positive_field(env, a, "heads");
  const int64_t kv_heads = a.Get("kvHeads").IsUndefined() ? heads : positive_field(env, a, "kvHeads");
  if (heads % kv_heads != 0) throw Napi::RangeError::New(env, "kvHeads must divide heads");
  cpu::AttentionShape s{heads, kv_heads, positive_field(env, a, "headDim")};
  const int64_t capacity = positive_field(env, a, "capacity");
  const int64_t rows = positive_field(env, a, "rows"), start = non_negative_field(env, a, "start");
  if (start + rows > capacity)
    throw Napi::RangeError::New(env, "start + rows (" + std::to_string(start + rows) + ") exceeds capacity " +
                                         std::to_string(capacity));
  const Timing timing = timing_args(env, a);
  const int64_t blocks = (capacity + kKvBlockSize - 1) / kKvBlockSize;
  const int64_t half = blocks * s.kv_heads * kKvBlockSize * s.head_dim;
  std::vector<float> qkv = random_floats(size_t(rows * s.qkv_width()), 6);
  std::vector<float> pool = random_floats(size_t(2 * half), 7);
  std::vector<float> out(size_t(rows * s.q_heads * s.head_dim));
  std::vector<int32_t> table(static_cast<size_t>(blocks)), positions(static_cast<size_t>(rows));
  std::vector<int32_t> table_starts(static_cast<size_t>(rows), 0);
  for (int64_t i = 0; i < blocks; ++i) table[size_t(i)] = int32_t(i);
  Rng rng(8);
  for (int64_t i = blocks - 1; i > 0; --i) std::swap(table[size_t(i)], table[size_t(rng.next() % uint64_t(i + 1))]);
  for (int64_t t = 0; t < rows; ++t) positions[size_t(t)] = int32_t(start + t);
  const StepLayout layout{rows, nullptr, positions.data(), table_starts.data(), table.data(), blocks};
  const cpu::PagedLayer kv{pool.data(), pool.data() + half};
  ThreadPool threads(int(positive_field(env, a, "threads")));
  return time_kernel(env, timing, [&](int64_t) {
    cpu::kv_append(s, qkv.data(), layout, kv);
    cpu::attention(threads, s, AttentionVariant{1.0f / std::sqrt(float(s.head_dim)), 0, nullptr}, qkv.data(), layout, kv, out.data());
  });
}

// ---------------------------------------------------------------------------------------------
// Memory read bandwidth

// Sums a run of words: integer adds vectorise without reassociation flags, so the loop is as
// wide as the ISA's loads.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) uint64_t sum_words(
    const uint64_t* p, int64_t n) {
  uint64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  return s;
}

// memoryRead({bytes, passes, threads}): reads a `bytes` buffer `passes` times, each pass split
// over the pool, and returns the best and the median GB/s (10⁹ bytes per second).
Napi::Value MemoryRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t words = std::max<int64_t>(1, positive_field(env, a, "bytes") / 8);
  const int64_t passes = positive_field(env, a, "passes");
  const int threads = int(positive_field(env, a, "threads"));
  ThreadPool pool(threads);
  Buffer memory = aligned_buffer(env, size_t(words) * 8);
  uint64_t* data = reinterpret_cast<uint64_t*>(memory.get());

  // Several chunks per thread balance a noisy machine; chunks are whole pages.
  const int64_t chunks = int64_t(threads) * 8;
  const int64_t chunk = round_up(size_t((words + chunks - 1) / chunks), 512);
  std::vector<uint64_t> partial(size_t(chunks) * 8);  // a cache line per chunk: no false sharing
  auto for_chunks = [&](const std::function<void(int64_t, int64_t, int64_t)>& fn) {
    pool.parallel_for(chunks, [&](int64_t c) {
      int64_t begin = std::min(words, c * chunk), end = std::min(words, begin + chunk);
      fn(c, begin, end);
    });
  };
  // Written by the pool too, so every page is touched (and placed) before the clock starts.
  for_chunks([&](int64_t, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) data[i] = uint64_t(i) * 0x9e3779b97f4a7c15ull + 1;
  });

  std::vector<double> gbps;
  uint64_t checksum = 0;
  for (int64_t p = 0; p < passes; ++p) {
    const Clock::time_point t0 = Clock::now();
    for_chunks([&](int64_t c, int64_t begin, int64_t end) { partial[size_t(c) * 8] = sum_words(data + begin, end - begin); });
    const double s = seconds_since(t0);
    for (int64_t c = 0; c < chunks; ++c) checksum += partial[size_t(c) * 8];
    gbps.push_back(double(words) * 8 / s / 1e9);
  }
  std::sort(gbps.begin(), gbps.end());
  const size_t n = gbps.size();
  Napi::Object out = Napi::Object::New(env);
  out.Set("bytes", double(words) * 8);
  out.Set("passes", double(passes));
  out.Set("threads", double(threads));
  out.Set("bestGBs", gbps.back());
  out.Set("medianGBs", n % 2 ? gbps[n / 2] : 0.5 * (gbps[n / 2 - 1] + gbps[n / 2]));
  // Returned so the reads cannot be optimised away; the value itself means nothing.
  out.Set("checksum", double(checksum % (uint64_t(1) << 52)));
  return out;
}

}  // namespace

Napi::Object CreateBench(Napi::Env env) {
  Napi::Object bench = Napi::Object::New(env);
  bench.Set("matmul", Napi::Function::New<Matmul>(env, "matmul"));
  bench.Set("lmHead", Napi::Function::New<LmHead>(env, "lmHead"));
  bench.Set("attention", Napi::Function::New<Attention>(env, "attention"));
  bench.Set("memoryRead", Napi::Function::New<MemoryRead>(env, "memoryRead"));
  return bench;
}

}  // namespace gpt::napi
