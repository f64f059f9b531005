// Single CUDA kernels on host arrays, for napi/cuda_ops_wrap.cpp (the cudaOps test surface):
// each call uploads its inputs to the current device, runs one launcher, copies the results back
// and frees everything. Slow by design; plain C++ types only, so callers need no CUDA headers.
// Errors: std::invalid_argument for shapes a kernel cannot take, std::runtime_error for CUDA.
#pragma once
#include <cstdint>

#include "core/backend.h"
#include "core/dtype.h"
#include "core/kv_layout.h"
#include "core/sampler.h"
#include "core/weight_view.h"
#include "cuda/options.h"

namespace gpt::cuda {

// out[M, epilogue_width(epilogue, N)] = epilogue(in · w + bias); w [K, N] in its dtype; bias fp32
// [N] or null (kSwiglu: out [M, N/2]).
void host_matmul(const float* in, int64_t M, const WeightView& w, const float* bias, Epilogue epilogue,
                 MatmulPath path, float* out);

// logits[M, V] = in[M, C] · wte[V, C]ᵀ (+ bias[V], fp32, when not null).
void host_lm_head(const float* in, int64_t M, const WeightView& wte, const float* bias, MatmulPath path,
                  float* logits);

// With `add`: x += add (written back to x), then out = LayerNorm(x). gamma, beta fp32 [C].
void host_layernorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, const float* beta,
                    float eps, float* out);

// host_layernorm's twin for RMSNorm (no beta).
void host_rmsnorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, float eps, float* out);

// The rotary embedding of `rows` qkv rows in place (`a.inv_freq` host memory here).
void host_rotary(const RotaryArgs& a, float* qkv, int64_t rows, const int32_t* positions);

void host_embed(const int32_t* tokens, const int32_t* positions, int64_t rows, const WeightView& wte,
                const WeightView& wpe, float* out);

// kv_append, then attention, over `pool`: one layer of `blocks` blocks, k[blocks][kv_heads][16][D]
// then v likewise (qkv [rows, (q_heads + 2 kv_heads) · D], out [rows, q_heads · D]), in fp32 here and in `cache_dtype` on the device (rounded to nearest on upload,
// widened on download), written back with the rows' keys and values in it. The layout's rows
// (positions, block tables; tokens unused) as core/kv_layout.h has them, checked by the caller.
// `v.slopes` (one per query head) is host memory here.
void host_attention(const AttentionShape& s, const AttentionVariant& v, const float* qkv, const StepLayout& layout,
                    int64_t blocks, float* pool, DType cache_dtype, float* out);

// One pick with every feature of SampleRequest (adjustments checked here, as the backend does).
Sampled host_sample(const float* logits, int64_t vocab, const SampleRequest& request);

}  // namespace gpt::cuda
