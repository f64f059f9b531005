// Timing of single CUDA kernels on random device buffers (see kernel_timing.h).
//
// Launch overhead: a decode-shaped kernel runs for a few microseconds, about as long as the host
// takes to enqueue it, so launches issued one after another would leave the GPU idle between them
// and the events would time the host. Each batch of timed launches is therefore queued behind
// hold_kernel, which spins on the GPU long enough for the host to enqueue the whole batch; the
// GPU then runs the launches back to back, each between its own pair of events. The median
// discards the odd launch the host did not queue in time.
//
// Test: tests/bench.test.ts (cudaBench, on a GPU). Used by bench/lib/kernels.ts.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "cuda/device_buffer.cuh"
#include "cuda/kernel_timing.h"
#include "cuda/matmul.cuh"

namespace gpt::cuda {

namespace {

// ---------------------------------------------------------------------------------------------
// Kernels

__device__ __forceinline__ void store(float* p, float x) { *p = x; }
__device__ __forceinline__ void store(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }

// p[i] = ±scale · (0.25 … 1), from a splitmix64 hash of (seed, i): non-zero, normal in every
// dtype for the scales used here, the same on every run.
template <typename T>
__global__ void fill_random_kernel(T* p, int64_t n, uint64_t seed, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint64_t z = (seed << 40) + uint64_t(i) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float magnitude = scale * (0.25f + 0.75f * float(z >> 40) * (1.0f / 16777216.0f));
    store(p + i, (z & 1) ? -magnitude : magnitude);
  }
}

__device__ __forceinline__ uint64_t global_nanos() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// One thread spinning for `nanos` of the GPU's global timer: the launches queued behind it wait.
__global__ void hold_kernel(uint64_t nanos) {
  const uint64_t start = global_nanos();
  while (global_nanos() - start < nanos) {
  }
}

// Every thread sums its grid-strided 16-byte words as integers (any bit pattern is a valid one),
// and each warp adds its total to *sum: nothing read can be optimised away.
__global__ void read_kernel(const uint4* p, int64_t n, unsigned long long* sum) {
  unsigned long long acc = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(p + i);  // streaming: no point keeping it in L2
    acc += uint64_t(v.x) + v.y + v.z + v.w;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (threadIdx.x % 32 == 0) atomicAdd(sum, acc);
}

// ---------------------------------------------------------------------------------------------
// Buffers

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

DeviceBuffer random_buffer(size_t bytes, DType dtype, uint64_t seed, float scale, const std::string& what) {
  DeviceBuffer buf(bytes, what);
  const int64_t n = int64_t(bytes / dtype_size(dtype));
  if (n == 0) return buf;
  constexpr int kThreads = 256;
  const int blocks = int(std::min<int64_t>(ceil_div(n, kThreads), int64_t(sm_count()) * 8));
  switch (dtype) {
    case DType::F32: fill_random_kernel<<<blocks, kThreads>>>(buf.get<float>(), n, seed, scale); break;
    case DType::F16: fill_random_kernel<<<blocks, kThreads>>>(buf.get<__half>(), n, seed, scale); break;
    case DType::BF16: fill_random_kernel<<<blocks, kThreads>>>(buf.get<__nv_bfloat16>(), n, seed, scale); break;
    case DType::I8: throw std::runtime_error("int8 weights are not supported on CUDA yet");
  }
  CUDA_CHECK_LAUNCH("fill_random_kernel");
  return buf;
}

// Copies of one weight (random, of order GPT-2's 0.02), each on a 256-byte boundary (the decode
// paths need 16). With `cold`, enough copies to span twice the L2 cache: cycling through them,
// no launch finds its weight in L2.
struct WeightCopies {
  DeviceBuffer memory;
  size_t stride;
  int64_t copies;

  const void* copy(int64_t i) const { return memory.get<char>() + size_t(i % copies) * stride; }
};

WeightCopies random_weight(int64_t numel, DType dtype, bool cold, uint64_t seed) {
  const size_t bytes = size_t(numel) * dtype_size(dtype);
  int64_t copies = 1;
  if (cold) {
    int device = 0, l2_bytes = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    copies = std::max<int64_t>(1, ceil_div(2 * int64_t(l2_bytes), int64_t(bytes)));
  }
  const size_t stride = round_up(bytes, 256);
  return WeightCopies{random_buffer(stride * size_t(copies), dtype, seed, 0.05f, "the weight copies"), stride, copies};
}

// ---------------------------------------------------------------------------------------------
// The timing loop

class Event {
 public:
  Event() { CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() {
    if (event_) cudaEventDestroy(event_);  // no throw from a destructor
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

constexpr int64_t kBatch = 32;  // timed launches queued behind one hold
// Host time allowed for enqueueing one launch and its two events: about ten times what it takes.
constexpr uint64_t kHoldNanosPerLaunch = 50000;

// `launch(i)` enqueues call i on the default stream.
template <typename Launch>
KernelTime time_launches(const TimingPlan& plan, int64_t weight_copies, Launch launch) {
  int64_t call = 0;
  for (int64_t i = 0; i < plan.warmup; ++i) launch(call++);
  CUDA_CHECK(cudaDeviceSynchronize());  // a fault in the kernel surfaces here, named
  std::vector<Event> starts(kBatch), stops(kBatch);
  std::vector<double> samples;
  const auto t0 = std::chrono::steady_clock::now();
  while (int64_t(samples.size()) < plan.iterations) {
    const int64_t batch = std::min<int64_t>(kBatch, plan.iterations - int64_t(samples.size()));
    hold_kernel<<<1, 1>>>(uint64_t(batch) * kHoldNanosPerLaunch);
    CUDA_CHECK_LAUNCH("hold_kernel");
    for (int64_t i = 0; i < batch; ++i) {
      CUDA_CHECK(cudaEventRecord(starts[size_t(i)].get()));
      launch(call++);
      CUDA_CHECK(cudaEventRecord(stops[size_t(i)].get()));
    }
    CUDA_CHECK(cudaEventSynchronize(stops[size_t(batch - 1)].get()));
    for (int64_t i = 0; i < batch; ++i) {
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, starts[size_t(i)].get(), stops[size_t(i)].get()));
      samples.push_back(double(ms) * 1e-3);
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > plan.max_seconds) break;
  }
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  const double median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  return KernelTime{median, samples.front(), int64_t(n), weight_copies};
}

}  // namespace

KernelTime time_matmul(int64_t rows, int64_t k, int64_t n, DType dtype, bool cold_weights, const TimingPlan& plan) {
  const WeightCopies w = random_weight(k * n, dtype, cold_weights, 1);
  const DeviceBuffer in = random_buffer(size_t(rows * k) * 4, DType::F32, 2, 1.0f, "the matmul input");
  const DeviceBuffer bias = random_buffer(size_t(n) * 4, DType::F32, 3, 0.1f, "the matmul bias");
  const DeviceBuffer out(size_t(rows * n) * 4, "the matmul output");
  const size_t ws_floats = matmul_workspace_floats(rows, k, n, dtype);
  const DeviceBuffer ws(ws_floats * 4, "the split-K workspace");
  return time_launches(plan, w.copies, [&](int64_t i) {
    matmul(in.get<float>(), rows, k, n, w.copy(i), dtype, bias.get<float>(), Epilogue::kStore, out.get<float>(),
           MatmulPath::kAuto, ws.get<float>(), ws_floats, nullptr);
  });
}

KernelTime time_lm_head(int64_t rows, int64_t c, int64_t vocab, DType dtype, bool cold_weights,
                        const TimingPlan& plan) {
  const WeightCopies wte = random_weight(vocab * c, dtype, cold_weights, 4);
  const DeviceBuffer in = random_buffer(size_t(rows * c) * 4, DType::F32, 5, 1.0f, "the LM head input");
  const DeviceBuffer logits(size_t(rows * vocab) * 4, "the logits");
  return time_launches(plan, wte.copies, [&](int64_t i) {
    lm_head(in.get<float>(), rows, c, vocab, wte.copy(i), dtype, nullptr, logits.get<float>(), MatmulPath::kAuto,
            nullptr);
  });
}

KernelTime time_attention(const AttentionShape& s, int64_t capacity, int64_t rows, int64_t start, DType cache_dtype,
                          const TimingPlan& plan) {
  const int64_t C = s.q_heads * s.head_dim;
  const int64_t blocks = (capacity + kKvBlockSize - 1) / kKvBlockSize;
  const size_t half = size_t(blocks * s.kv_heads * kKvBlockSize * s.head_dim);
  const DeviceBuffer qkv = random_buffer(size_t(rows * s.qkv_width()) * 4, DType::F32, 6, 1.0f, "the attention input");
  const DeviceBuffer pool = random_buffer(2 * half * dtype_size(cache_dtype), cache_dtype, 7, 1.0f, "the KV pool");
  const DeviceBuffer out(size_t(rows * C) * 4, "the attention output");
  // One sequence: positions start … start + rows − 1, its blocks in a scattered order.
  std::vector<int32_t> host(size_t(2 * rows + blocks));
  for (int64_t t = 0; t < rows; ++t) {
    host[size_t(t)] = int32_t(start + t);
    host[size_t(rows + t)] = 0;
  }
  // b ↦ 7919 b mod blocks is a permutation: 7919 is prime, and no pool here is a multiple of it.
  for (int64_t b = 0; b < blocks; ++b) host[size_t(2 * rows + b)] = int32_t((b * 7919) % blocks);
  const DeviceBuffer layout(host.size() * 4, "the step layout");
  CUDA_CHECK(cudaMemcpy(layout.get(), host.data(), host.size() * 4, cudaMemcpyHostToDevice));
  const int32_t* d = layout.get<int32_t>();
  const DeviceLayout l{d, d + rows, d + 2 * rows, rows, start + rows};
  const DevicePool kv{pool.get(), pool.get<char>() + half * dtype_size(cache_dtype), cache_dtype};
  const size_t ws_floats = attention_workspace_floats(s, rows, start + rows);
  const DeviceBuffer ws(ws_floats * 4, "the attention workspace");
  return time_launches(plan, 1, [&](int64_t) {
    kv_append(s, qkv.get<float>(), l, kv, nullptr);
    attention(s, AttentionVariant{1.0f / std::sqrt(float(s.head_dim)), 0, nullptr}, qkv.get<float>(), l, kv, out.get<float>(), ws.get<float>(), ws_floats, nullptr);
  });
}

MemoryReadTime time_memory_read(size_t bytes, int64_t passes) {
  GPT_REQUIRE(bytes >= 16 && passes >= 1, "memory read: at least 16 bytes and one pass");
  const int64_t words = int64_t(bytes / 16);
  const DeviceBuffer data = random_buffer(size_t(words) * 16, DType::F32, 8, 1.0f, "the memory-read buffer");
  const DeviceBuffer sum(sizeof(unsigned long long), "the memory-read checksum");
  CUDA_CHECK(cudaMemset(sum.get(), 0, sizeof(unsigned long long)));
  const unsigned blocks = unsigned(int64_t(sm_count()) * 8);
  const auto launch = [&] {
    read_kernel<<<blocks, 256>>>(data.get<uint4>(), words, sum.get<unsigned long long>());
    CUDA_CHECK_LAUNCH("read_kernel");
  };
  launch();  // warm-up: clocks up, pages touched
  Event start, stop;
  std::vector<double> gbs;
  for (int64_t i = 0; i < passes; ++i) {
    CUDA_CHECK(cudaEventRecord(start.get()));
    launch();
    CUDA_CHECK(cudaEventRecord(stop.get()));
    CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    gbs.push_back(double(words) * 16 / (double(ms) * 1e-3) / 1e9);
  }
  std::sort(gbs.begin(), gbs.end());
  unsigned long long checksum = 0;
  CUDA_CHECK(cudaMemcpy(&checksum, sum.get(), sizeof checksum, cudaMemcpyDeviceToHost));
  return MemoryReadTime{gbs.back(), gbs[gbs.size() / 2], double(checksum)};
}

}  // namespace gpt::cuda
