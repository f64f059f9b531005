// The AMX bf16 tiles' peak on this CPU, for bench/NOTES.md's share-of-limit figures (issue 16):
// each thread runs TDPBF16PS on four accumulator tiles, either from operand tiles already loaded
// (the unit's own peak) or loading A and B from L1 for every product (matmul_amx's pattern: two A
// and two B tile loads per four products). 16 × 16 × 32 multiply-adds = 16,384 flops a product.
// Built and run by bench/tile-peak/run.sh; prints one line per (mode, threads).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "../../native/cpu/tile_config.h"

namespace {

using gpt::cpu::kTileConfig;  // native/cpu/tile_config.h

constexpr double kFlopsPerProduct = 16.0 * 16 * 32 * 2;

// Four products per iteration from resident operand tiles 4–7 into accumulators 0–3.
__attribute__((target("amx-tile,amx-bf16"))) void resident(int64_t iterations, float* sink) {
  _tile_loadconfig(&kTileConfig);
  alignas(64) static thread_local uint16_t operand[16 * 32];
  for (int i = 0; i < 16 * 32; ++i) operand[i] = uint16_t(0x3f80 + (i & 7));  // bf16 1.0 … 1.05
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  _tile_loadd(4, operand, 64); _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64); _tile_loadd(7, operand, 64);
  for (int64_t i = 0; i < iterations; ++i) {
    _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float out[16 * 16];
  _tile_stored(0, out, 64);
  *sink = out[0];
  _tile_release();
}

// The same four products, A and B loaded from an L1-resident 16 KiB run of k-steps each time.
__attribute__((target("amx-tile,amx-bf16"))) void streamed(int64_t iterations, float* sink) {
  _tile_loadconfig(&kTileConfig);
  constexpr int kSteps = 8;  // matmul_amx's k-block
  alignas(64) static thread_local uint16_t a[kSteps][2][16 * 32], b[kSteps][2][16 * 32];
  for (int s = 0; s < kSteps; ++s)
    for (int t = 0; t < 2; ++t)
      for (int i = 0; i < 16 * 32; ++i) a[s][t][i] = b[s][t][i] = uint16_t(0x3f80 + ((i + s) & 7));
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  for (int64_t i = 0; i < iterations; ++i) {
    const int s = int(i % kSteps);
    _tile_loadd(4, a[s][0], 64); _tile_loadd(5, a[s][1], 64);
    _tile_loadd(6, b[s][0], 64); _tile_loadd(7, b[s][1], 64);
    _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float out[16 * 16];
  _tile_stored(0, out, 64);
  *sink = out[0];
  _tile_release();
}

// Median of five timings of `threads` threads each running `kernel`, in GFLOPS for all of them.
double measure(void (*kernel)(int64_t, float*), int threads, int64_t iterations) {
  std::vector<double> runs;
  for (int run = 0; run < 5; ++run) {
    std::vector<float> sinks(size_t(threads) * 16);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(kernel, iterations, &sinks[size_t(t) * 16]);
    for (auto& t : pool) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    runs.push_back(4.0 * kFlopsPerProduct * double(iterations) * threads / s / 1e9);
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

}  // namespace

int main(int argc, char** argv) {
  const int max_threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (!__builtin_cpu_supports("amx-bf16") || syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    std::fprintf(stderr, "tile-peak: this CPU or kernel offers no AMX-BF16 tiles\n");
    return 2;
  }
  const int64_t iterations = 20'000'000;
  for (int threads = 1; threads <= max_threads; threads *= 2) {
    std::printf("resident operands, %d thread(s): %.0f GFLOPS\n", threads, measure(resident, threads, iterations));
    std::printf("A and B from L1,   %d thread(s): %.0f GFLOPS\n", threads, measure(streamed, threads, iterations));
  }
  return 0;
}
