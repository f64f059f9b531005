// Token + position embedding: out[t, c] = wte[tokens[t], c] + wpe[positions[t], c], fp32 out; a
// table that is null adds nothing (BLOOM has no positions; OPT's project_in embeds them apart).
//
// Layout: wte [V, C] and wpe [P, C] row-major, each F32, F16 or BF16 (chosen at run time per
// element: this kernel moves 2·C values per token and is never the bottleneck); tokens and
// positions int32 in device memory (so a decode step replayed from a CUDA graph reads the step's
// own). One block per token.
//
// Test: tests/cuda-kernels.test.ts (cudaOps.embed against the widened rows summed in JS).
#include "cuda/common.cuh"
#include "cuda/embedding.cuh"

namespace gpt::cuda {

namespace {

__device__ __forceinline__ float load_as_f32(const void* p, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return to_f32(static_cast<const __half*>(p)[i]);
    case DType::BF16: return to_f32(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::I8: break;  // token tables are never quantized
  }
  return 0.0f;
}

__global__ void embed_rows(const int32_t* tokens, const int32_t* positions, int64_t C, const void* wte,
                           DType wte_dtype, const void* wpe, DType wpe_dtype, float* out) {
  const int64_t t = blockIdx.x;
  const int64_t tok = tokens[t], pos = positions[t];
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
    out[t * C + c] = (wte ? load_as_f32(wte, wte_dtype, tok * C + c) : 0.0f) +
                     (wpe ? load_as_f32(wpe, wpe_dtype, pos * C + c) : 0.0f);
}

}  // namespace

void embed(const int32_t* tokens, const int32_t* positions, int64_t rows, int64_t C, const void* wte, DType wte_dtype,
           const void* wpe, DType wpe_dtype, float* out, cudaStream_t stream) {
  GPT_REQUIRE(rows > 0 && C > 0, "embed: empty shape");
  GPT_REQUIRE(wte || wpe, "embed: neither table given");
  GPT_REQUIRE(rows <= 0x7fffffff, "embed: too many rows");
  embed_rows<<<unsigned(rows), 256, 0, stream>>>(tokens, positions, C, wte, wte_dtype, wpe, wpe_dtype, out);
  CUDA_CHECK_LAUNCH("embed_rows");
}

}  // namespace gpt::cuda
