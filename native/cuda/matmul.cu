// Matrix products of the linear layers and the LM head.
//
// Computes out[M, N] = epilogue(in[M, K] · B + bias[N]) where B is a weight in its storage dtype
// (F32, F16, BF16) addressed as B[k * sk + n * sn]: a Conv1D weight [K, N] row-major has
// (sk, sn) = (N, 1); the tied LM head reads wte[V, C] as its transpose, (sk, sn) = (1, C).
// Activations, bias and output are fp32 row-major; accumulation is always fp32.
//
// Three paths:
//   matmul_fp32_tiled      64×64 output tiles, 16-deep K steps in shared memory, 4×4 outputs per
//                          thread. The exact path: fp32 products of the widened weight.
//   matmul_wmma            tensor cores (WMMA 16×16×16), F16/BF16 weights; the fp32 input is
//                          rounded to the weight's dtype as it is staged in shared memory.
//   matmul_decode_splitk   a GEMV-like sweep over chunks of 8 rows (grid z) where each thread
//                          reads 16 bytes of a weight row per step, K split over blocks a number of
//                          ways that depends on the shape and the GPU, never on M (partials in a
//                          workspace, summed in split order by matmul_splitk_finish).
//   lm_head_decode         the LM head in chunks of 8 rows (grid y): one warp per vocabulary row.
// Path auto takes the decode kernels for any M whenever the shapes allow them, else the fp32
// tiles: a choice made without looking at M, and kernels whose every output is one fixed chain
// of sums, so a row's result does not depend on the other rows (batch invariance). The tensor-core
// kernel, faster for long prompts but not invariant, is kept for the kernel tests and the bench.
// Tiled loads are scalar with bounds checks (any shape); the decode paths need N (or C) to be a
// multiple of 16 / sizeof(dtype) and 16-byte aligned pointers, checked on the host.
//
// SwiGLU (Epilogue::kSwiglu: out[m, j] = silu(y[m, 2j]) · y[m, 2j + 1], out [M, N/2]) is fused into
// every path's epilogue, each output computed from its two finished sums, exactly as the other
// epilogues are (so batch invariance holds as for them; the sums are not touched):
//   fp32 tiles    a thread's columns n0 + tx + 16j keep tx's parity (n0 is a multiple of 64), so a
//                 gate column's thread (tx even) takes its up column from lane tx + 1 of the same
//                 warp with one shuffle, and writes the output.
//   tensor cores  the tile is staged in shared memory (Cs) anyway: the store loop walks column pairs.
//   decode        the block's column sums sit in shared memory (red) and a block's columns start at
//                 a multiple of 8 · 16 / sizeof(dtype): the unsplit store walks pairs; with K split,
//                 the partials hold y's full width and matmul_splitk_finish, one thread per output,
//                 sums both columns of its pair in split order.
//
// Test: tests/cuda-kernels.test.ts (cudaOps.matmul / lmHead with path "fp32" | "tensorcore" |
// "decode" against the CPU reference twin, awkward shapes). Time: cudaBench.matmul / lmHead
// (npm run bench -- --device cuda); build with GPT_CUDA_VERBOSE=1 to see registers and spills.
#include <mma.h>

#include <algorithm>
#include <string>
#include <utility>

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"

namespace gpt::cuda {

namespace {

// ---------------------------------------------------------------------------------------------
// Kernels

__device__ __forceinline__ void apply_epilogue(float* out, int64_t idx, float v, Epilogue ep) {
  switch (ep) {
    case Epilogue::kStore: out[idx] = v; break;
    case Epilogue::kGeluTanh: out[idx] = gelu_tanh(v); break;
    case Epilogue::kGeluErf: out[idx] = gelu_erf(v); break;
    case Epilogue::kRelu: out[idx] = v < 0.0f ? 0.0f : v; break;  // NaN stays NaN (fmaxf would drop it)
    case Epilogue::kSwiglu: break;  // two values per output: store_swiglu
    case Epilogue::kResidual: out[idx] += v; break;
  }
}

// SwiGLU's output j of row m from y[m, 2j] (gate) and y[m, 2j + 1] (up), as native/cpu/activation.h
// computes it: silu(g) = g / (1 + e^−g) in fp32 with the accurate expf, times up.
__device__ __forceinline__ void store_swiglu(float* out, int64_t m, int64_t j, int64_t N, float gate, float up) {
  out[m * (N / 2) + j] = gate / (1.0f + expf(-gate)) * up;
}

struct Operands {
  const float* in;  // [M, K]
  const void* b;    // B[k * sk + n * sn]
  int64_t sk, sn;
  const float* bias;  // [N] or null
  float* out;         // [M, N]
  int64_t M, K, N;
  Epilogue ep;
};

constexpr int kTile = 64;      // output tile edge of the tiled kernels
constexpr int kFp32K = 16;     // K step of the fp32 kernel
constexpr int kFp32Threads = 256;

template <typename T>
__global__ void __launch_bounds__(kFp32Threads) matmul_fp32_tiled(Operands op) {
  __shared__ float As[kFp32K][kTile + 1];  // A tile transposed: As[k][m]
  __shared__ float Bs[kFp32K][kTile];
  const T* B = static_cast<const T*>(op.b);
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kTile, n0 = int64_t(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < op.K; k0 += kFp32K) {
    for (int i = tid; i < kTile * kFp32K; i += kFp32Threads) {
      const int r = i / kFp32K, kk = i % kFp32K;  // consecutive threads: consecutive k of one row
      const int64_t m = m0 + r, k = k0 + kk;
      As[kk][r] = (m < op.M && k < op.K) ? op.in[m * op.K + k] : 0.0f;
    }
    for (int i = tid; i < kTile * kFp32K; i += kFp32Threads) {
      // Walk B along whichever of its dimensions is contiguous.
      const int kk = op.sn == 1 ? i / kTile : i % kFp32K, c = op.sn == 1 ? i % kTile : i / kFp32K;
      const int64_t k = k0 + kk, n = n0 + c;
      Bs[kk][c] = (k < op.K && n < op.N) ? to_f32(B[k * op.sk + n * op.sn]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kFp32K; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  if (op.ep == Epilogue::kSwiglu) {
    // Lanes tx and tx + 1 (tx even) of one warp hold columns n and n + 1 of the same rows: the
    // shuffle runs on every lane, in range or not.
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
        const float y = acc[i][j] + (op.bias && n < op.N ? op.bias[n] : 0.0f);
        const float up = __shfl_xor_sync(0xffffffffu, y, 1);
        if (tx % 2 == 0 && m < op.M && n < op.N) store_swiglu(op.out, m, n / 2, op.N, y, up);
      }
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m < op.M && n < op.N) apply_epilogue(op.out, m * op.N + n, acc[i][j] + (op.bias ? op.bias[n] : 0.0f), op.ep);
    }
}

constexpr int kWmmaK = 32;  // K step of the tensor-core kernel
constexpr int kWmmaThreads = 128;  // 4 warps, each a 32×32 quarter of the 64×64 tile
constexpr int kAPitch = kWmmaK + 8, kBPitch = kTile + 8, kCPitch = kTile + 4;  // padded rows

template <typename T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

template <typename T>
__global__ void __launch_bounds__(kWmmaThreads) matmul_wmma(Operands op) {
  using namespace nvcuda;
  __shared__ __align__(32) T As[kTile][kAPitch];
  __shared__ __align__(32) T Bs[kWmmaK][kBPitch];
  __shared__ __align__(32) float Cs[kTile][kCPitch];
  const T* B = static_cast<const T*>(op.b);
  const int tid = threadIdx.x, warp = tid / 32;
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int64_t m0 = int64_t(blockIdx.y) * kTile, n0 = int64_t(blockIdx.x) * kTile;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int64_t k0 = 0; k0 < op.K; k0 += kWmmaK) {
    for (int i = tid; i < kTile * kWmmaK; i += kWmmaThreads) {
      const int r = i / kWmmaK, kk = i % kWmmaK;
      const int64_t m = m0 + r, k = k0 + kk;
      As[r][kk] = from_f32<T>((m < op.M && k < op.K) ? op.in[m * op.K + k] : 0.0f);
    }
    for (int i = tid; i < kTile * kWmmaK; i += kWmmaThreads) {
      const int kk = op.sn == 1 ? i / kTile : i % kWmmaK, c = op.sn == 1 ? i % kTile : i / kWmmaK;
      const int64_t k = k0 + kk, n = n0 + c;
      Bs[kk][c] = (k < op.K && n < op.N) ? B[k * op.sk + n * op.sn] : from_f32<T>(0.0f);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kWmmaK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &As[wm + 16 * i][kk], kAPitch);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &Bs[kk][wn + 16 * j], kBPitch);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&Cs[wm + 16 * i][wn + 16 * j], acc[i][j], kCPitch, wmma::mem_row_major);
  __syncthreads();
  if (op.ep == Epilogue::kSwiglu) {
    for (int i = tid; i < kTile * kTile / 2; i += kWmmaThreads) {
      const int r = i / (kTile / 2), c = 2 * (i % (kTile / 2));
      const int64_t m = m0 + r, n = n0 + c;  // n even, N even: n + 1 < N too
      if (m < op.M && n < op.N)
        store_swiglu(op.out, m, n / 2, op.N, Cs[r][c] + (op.bias ? op.bias[n] : 0.0f),
                     Cs[r][c + 1] + (op.bias ? op.bias[n + 1] : 0.0f));
    }
    return;
  }
  for (int i = tid; i < kTile * kTile; i += kWmmaThreads) {
    const int r = i / kTile, c = i % kTile;
    const int64_t m = m0 + r, n = n0 + c;
    if (m < op.M && n < op.N) apply_epilogue(op.out, m * op.N + n, Cs[r][c] + (op.bias ? op.bias[n] : 0.0f), op.ep);
  }
}

// Decode: 256 threads = 32 K-lanes × 8 column threads; each column thread owns 16 bytes of a
// weight row (kVec columns), so a block covers 8 · kVec columns and a warp reads four 128-byte
// row segments per step. Block y takes K range [k_begin, k_end) of `splits`, block z rows
// 16z … 16z + 15.
constexpr int kDecodeThreads = 256;
constexpr int kColThreads = 8, kKLanes = kDecodeThreads / kColThreads;
constexpr int kMaxSplits = 16;
constexpr int64_t kMinSplitK = 256;  // at least 8 steps per K-lane

template <typename T, int MT>
__global__ void __launch_bounds__(kDecodeThreads) matmul_decode_splitk(Operands op, int64_t k_chunk, float* partial) {
  constexpr int kVec = 16 / sizeof(T), kCols = kColThreads * kVec;
  __shared__ float red[kDecodeThreads / 32][MT][kCols];
  const T* W = static_cast<const T*>(op.b);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int ct = tid % kColThreads, kl = tid / kColThreads;
  const int64_t n = int64_t(blockIdx.x) * kCols + ct * kVec;
  const int64_t k_begin = int64_t(blockIdx.y) * k_chunk, k_end = min(op.K, k_begin + k_chunk);
  const int64_t m0 = int64_t(blockIdx.z) * kDecodeRowChunk, rows = min(int64_t(MT), op.M - m0);

  float acc[MT][kVec] = {};
  if (n < op.N) {
    for (int64_t k = k_begin + kl; k < k_end; k += kKLanes) {
      float w[kVec];
      load16(W + k * op.N + n, w);
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        if (m < rows) {
          const float x = __ldg(op.in + (m0 + m) * op.K + k);
#pragma unroll
          for (int j = 0; j < kVec; ++j) acc[m][j] = fmaf(x, w[j], acc[m][j]);
        }
      }
    }
  }
  // Sum the four K-lanes of each warp (lanes ct, ct + 8, ct + 16, ct + 24), then the 8 warps.
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      float v = acc[m][j];
      v += __shfl_xor_sync(0xffffffffu, v, 8);
      v += __shfl_xor_sync(0xffffffffu, v, 16);
      if (lane < kColThreads) red[warp][m][ct * kVec + j] = v;
    }
  __syncthreads();
  if (op.ep == Epilogue::kSwiglu && gridDim.y == 1) {
    // The block's first column is a multiple of kCols (even): the pairs (c, c + 1) are its own.
    for (int i = tid; i < MT * kCols / 2; i += kDecodeThreads) {
      const int m = i / (kCols / 2), c = 2 * (i % (kCols / 2));
      const int64_t col = int64_t(blockIdx.x) * kCols + c;
      if (m >= rows || col >= op.N) continue;
      float gate = 0.0f, up = 0.0f;
#pragma unroll
      for (int w = 0; w < kDecodeThreads / 32; ++w) gate += red[w][m][c];
#pragma unroll
      for (int w = 0; w < kDecodeThreads / 32; ++w) up += red[w][m][c + 1];
      store_swiglu(op.out, m0 + m, col / 2, op.N, gate + (op.bias ? op.bias[col] : 0.0f),
                   up + (op.bias ? op.bias[col + 1] : 0.0f));
    }
    return;
  }
  for (int i = tid; i < MT * kCols; i += kDecodeThreads) {
    const int m = i / kCols, c = i % kCols;
    const int64_t col = int64_t(blockIdx.x) * kCols + c;
    if (m >= rows || col >= op.N) continue;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kDecodeThreads / 32; ++w) s += red[w][m][c];
    const int64_t at = (m0 + m) * op.N + col;
    if (gridDim.y == 1)
      apply_epilogue(op.out, at, s + (op.bias ? op.bias[col] : 0.0f), op.ep);
    else
      partial[int64_t(blockIdx.y) * op.M * op.N + at] = s;
  }
}

// out[m, n] = epilogue(Σ_s partial[s, m, n] + bias[n]); for SwiGLU one thread per output j of
// row m, from columns 2j and 2j + 1 summed alike.
__global__ void matmul_splitk_finish(Operands op, int splits, const float* partial) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (op.ep == Epilogue::kSwiglu) {
    const int64_t half = op.N / 2;
    if (i >= op.M * half) return;
    const int64_t m = i / half, j = i % half, at = m * op.N + 2 * j;
    float gate = 0.0f, up = 0.0f;
    for (int k = 0; k < splits; ++k) gate += partial[int64_t(k) * op.M * op.N + at];
    for (int k = 0; k < splits; ++k) up += partial[int64_t(k) * op.M * op.N + at + 1];
    store_swiglu(op.out, m, j, op.N, gate + (op.bias ? op.bias[2 * j] : 0.0f),
                 up + (op.bias ? op.bias[2 * j + 1] : 0.0f));
    return;
  }
  if (i >= op.M * op.N) return;
  float s = 0.0f;
  for (int k = 0; k < splits; ++k) s += partial[int64_t(k) * op.M * op.N + i];
  apply_epilogue(op.out, i, s + (op.bias ? op.bias[i % op.N] : 0.0f), op.ep);
}

// LM head: warp w of the block computes logits[m, v] for one vocabulary row v and the rows
// 8y … 8y + 7 of block y; its lanes stride over C in 16-byte pieces of the wte row; bias[v]
// (GPT-J's head; null: none) is added to the warp's sum.
constexpr int kHeadThreads = 256;

template <typename T, int MT>
__global__ void __launch_bounds__(kHeadThreads) lm_head_decode(const float* in, int64_t M, int64_t C, int64_t V,
                                                              const T* wte, const float* bias, float* logits) {
  constexpr int kVec = 16 / sizeof(T);
  const int lane = threadIdx.x % 32;
  const int64_t v = int64_t(blockIdx.x) * (kHeadThreads / 32) + threadIdx.x / 32;
  if (v >= V) return;
  const int64_t m0 = int64_t(blockIdx.y) * kDecodeRowChunk;
  in += m0 * C;
  logits += m0 * V;
  M = min(M - m0, int64_t(MT));
  float acc[MT] = {};
  const T* row = wte + v * C;
  for (int64_t c = int64_t(lane) * kVec; c < C; c += 32 * kVec) {
    float w[kVec];
    load16(row + c, w);
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      if (m >= M) break;
#pragma unroll
      for (int j = 0; j < kVec; j += 4) {
        // One explicit fma chain: the same operations for every row count and template.
        const float4 x = __ldg(reinterpret_cast<const float4*>(in + m * C + c + j));
        acc[m] = fmaf(x.x, w[j], acc[m]);
        acc[m] = fmaf(x.y, w[j + 1], acc[m]);
        acc[m] = fmaf(x.z, w[j + 2], acc[m]);
        acc[m] = fmaf(x.w, w[j + 3], acc[m]);
      }
    }
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    const float s = warp_sum(acc[m]);
    if (lane == 0 && m < M) logits[m * V + v] = s + (bias ? bias[v] : 0.0f);
  }
}

// ---------------------------------------------------------------------------------------------
// Launchers

const char* path_name(MatmulPath p) {
  switch (p) {
    case MatmulPath::kAuto: return "auto";
    case MatmulPath::kFp32: return "fp32";
    case MatmulPath::kTensorCore: return "tensorcore";
    case MatmulPath::kDecode: return "decode";
  }
  return "?";
}

template <template <typename> class Launch, typename... Args>
void by_dtype(DType dtype, Args&&... args) {
  switch (dtype) {
    case DType::F32: Launch<float>::run(args...); break;
    case DType::F16: Launch<__half>::run(args...); break;
    case DType::BF16: Launch<__nv_bfloat16>::run(args...); break;
    case DType::I8: throw std::runtime_error("int8 weights are not supported on CUDA yet");
  }
}

template <typename T>
struct LaunchTiled {
  static void run(const Operands& op, bool tensor_cores, cudaStream_t stream) {
    const dim3 grid(unsigned(ceil_div(op.N, kTile)), unsigned(ceil_div(op.M, kTile)));
    GPT_REQUIRE(grid.y <= 65535u, "matmul: " + std::to_string(op.M) + " rows exceed the grid limit");
    if constexpr (std::is_same_v<T, float>) {
      matmul_fp32_tiled<T><<<grid, kFp32Threads, 0, stream>>>(op);
      CUDA_CHECK_LAUNCH("matmul_fp32_tiled");
    } else {
      if (tensor_cores) {
        matmul_wmma<T><<<grid, kWmmaThreads, 0, stream>>>(op);
        CUDA_CHECK_LAUNCH("matmul_wmma");
      } else {
        matmul_fp32_tiled<T><<<grid, kFp32Threads, 0, stream>>>(op);
        CUDA_CHECK_LAUNCH("matmul_fp32_tiled");
      }
    }
  }
};

template <typename T, int MT>
void launch_decode(const Operands& op, dim3 grid, int64_t k_chunk, float* partial, cudaStream_t stream) {
  matmul_decode_splitk<T, MT><<<grid, kDecodeThreads, 0, stream>>>(op, k_chunk, partial);
  CUDA_CHECK_LAUNCH("matmul_decode_splitk");
}

// The decode kernel's K split: (splits, rows of K per split). Enough blocks for two per SM at one
// chunk of rows, but no K range shorter than kMinSplitK: it depends on the shape, the dtype and
// the GPU, never on M, so every row sums in one order.
std::pair<int64_t, int64_t> decode_split(int64_t K, int64_t N, DType dtype) {
  const int64_t cols = kColThreads * int64_t(16 / dtype_size(dtype));
  int64_t splits = std::min<int64_t>({ceil_div(2 * sm_count(), ceil_div(N, cols)), std::max<int64_t>(1, K / kMinSplitK),
                                      kMaxSplits});
  const int64_t k_chunk = ceil_div(K, splits);
  return {ceil_div(K, k_chunk), k_chunk};
}

template <typename T>
struct LaunchDecode {
  static void run(const Operands& op, DType dtype, float* workspace, size_t workspace_floats, cudaStream_t stream) {
    constexpr int kCols = kColThreads * int(16 / sizeof(T));
    const int64_t blocks = ceil_div(op.N, kCols);
    const auto [splits, k_chunk] = decode_split(op.K, op.N, dtype);
    GPT_REQUIRE(splits == 1 || (workspace && workspace_floats >= size_t(splits * op.M * op.N)),
                "matmul: the split-K workspace holds " + std::to_string(workspace_floats) + " floats, " +
                    std::to_string(splits * op.M * op.N) + " needed");
    const int64_t chunks = ceil_div(op.M, kDecodeRowChunk);
    GPT_REQUIRE(chunks <= 65535, "matmul: " + std::to_string(op.M) + " rows exceed the grid limit");
    const dim3 grid{unsigned(blocks), unsigned(splits), unsigned(chunks)};
    // Rows per block: the smallest template that holds min(M, 8); each row's sums are the same in all.
    if (op.M <= 1) launch_decode<T, 1>(op, grid, k_chunk, workspace, stream);
    else if (op.M <= 2) launch_decode<T, 2>(op, grid, k_chunk, workspace, stream);
    else if (op.M <= 4) launch_decode<T, 4>(op, grid, k_chunk, workspace, stream);
    else launch_decode<T, 8>(op, grid, k_chunk, workspace, stream);
    if (splits > 1) {
      const int64_t n = op.M * op.N;
      matmul_splitk_finish<<<unsigned(ceil_div(n, 256)), 256, 0, stream>>>(op, int(splits), workspace);
      CUDA_CHECK_LAUNCH("matmul_splitk_finish");
    }
  }
};

template <typename T, int MT>
void launch_head(const float* in, int64_t M, int64_t C, int64_t V, const void* wte, const float* bias, float* logits,
                 cudaStream_t stream) {
  const dim3 grid{unsigned(ceil_div(V, kHeadThreads / 32)), unsigned(ceil_div(M, kDecodeRowChunk))};
  lm_head_decode<T, MT><<<grid, kHeadThreads, 0, stream>>>(in, M, C, V, static_cast<const T*>(wte), bias, logits);
  CUDA_CHECK_LAUNCH("lm_head_decode");
}

template <typename T>
struct LaunchHeadDecode {
  static void run(const float* in, int64_t M, int64_t C, int64_t V, const void* wte, const float* bias,
                  float* logits, cudaStream_t stream) {
    if (M <= 1) launch_head<T, 1>(in, M, C, V, wte, bias, logits, stream);
    else if (M <= 4) launch_head<T, 4>(in, M, C, V, wte, bias, logits, stream);
    else launch_head<T, 8>(in, M, C, V, wte, bias, logits, stream);
  }
};

// Whether the 16-byte decode loads can read rows of `cols` elements of `dtype` from these pointers.
bool decode_fits(int64_t cols, DType dtype, const void* w, const float* in, bool in_vectorised) {
  const int64_t vec = 16 / int64_t(dtype_size(dtype));
  return cols % vec == 0 && aligned16(w) && (!in_vectorised || aligned16(in));
}

std::string shape_text(int64_t M, int64_t K, int64_t N, DType dtype) {
  return std::to_string(M) + "×" + std::to_string(K) + " · " + std::to_string(K) + "×" + std::to_string(N) + " " +
         dtype_name(dtype);
}

// `what` names the call in the error; it is a callable so that the text is only built to throw.
template <typename What>
void check_path(MatmulPath path, bool decode_ok, DType dtype, const What& what) {
  if (path == MatmulPath::kDecode && !decode_ok)
    throw std::invalid_argument("gpt-cuda: " + what() + ": the decode path needs a row length that is a multiple of " +
                                std::to_string(16 / dtype_size(dtype)) + " and 16-byte aligned pointers");
  if (path == MatmulPath::kTensorCore && dtype == DType::F32)
    throw std::invalid_argument("gpt-cuda: " + what() + ": the tensor-core path needs F16 or BF16 weights");
}

}  // namespace

size_t matmul_workspace_floats(int64_t M, int64_t K, int64_t N, DType dtype) {
  const int64_t splits = decode_split(K, N, dtype).first;
  return splits > 1 ? size_t(splits) * size_t(M) * size_t(N) : 0;
}

void matmul(const float* in, int64_t M, int64_t K, int64_t N, const void* w, DType dtype, const float* bias,
            Epilogue epilogue, float* out, MatmulPath path, float* workspace, size_t workspace_floats,
            cudaStream_t stream) {
  GPT_REQUIRE(M > 0 && K > 0 && N > 0, "matmul: empty shape " + shape_text(M, K, N, dtype));
  GPT_REQUIRE(epilogue != Epilogue::kSwiglu || N % 2 == 0,
              "matmul " + shape_text(M, K, N, dtype) + ": swiglu needs an even number of columns");
  const bool decode_ok = decode_fits(N, dtype, w, in, false);
  check_path(path, decode_ok, dtype, [&] { return "matmul " + shape_text(M, K, N, dtype); });
  if (path == MatmulPath::kAuto) path = decode_ok ? MatmulPath::kDecode : MatmulPath::kFp32;
  const Operands op{in, w, N, 1, bias, out, M, K, N, epilogue};
  if (path == MatmulPath::kDecode)
    by_dtype<LaunchDecode>(dtype, op, dtype, workspace, workspace_floats, stream);
  else
    by_dtype<LaunchTiled>(dtype, op, path == MatmulPath::kTensorCore, stream);
}

void lm_head(const float* in, int64_t M, int64_t C, int64_t V, const void* wte, DType dtype, const float* bias,
             float* logits, MatmulPath path, cudaStream_t stream) {
  GPT_REQUIRE(M > 0 && C > 0 && V > 0, "lm_head: empty shape " + shape_text(M, C, V, dtype));
  const bool decode_ok = decode_fits(C, dtype, wte, in, true);
  check_path(path, decode_ok, dtype,
             [&] { return std::string("lm_head ") + path_name(path) + " " + shape_text(M, C, V, dtype); });
  if (path == MatmulPath::kAuto) path = decode_ok ? MatmulPath::kDecode : MatmulPath::kFp32;
  if (path == MatmulPath::kDecode) {
    by_dtype<LaunchHeadDecode>(dtype, in, M, C, V, wte, bias, logits, stream);
  } else {
    const Operands op{in, wte, 1, C, bias, logits, M, C, V, Epilogue::kStore};
    by_dtype<LaunchTiled>(dtype, op, path == MatmulPath::kTensorCore, stream);
  }
}

}  // namespace gpt::cuda
