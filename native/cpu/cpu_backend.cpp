#include "cpu/cpu_backend.h"

#include <cstring>
#include <utility>

#include "cpu/attention.h"
#include "cpu/matmul.h"
#include "cpu/norm.h"

namespace gpt::cpu {

CpuBackend::CpuBackend(int threads) : pool_(threads) {}

float* CpuBackend::buffer(Slot slot, size_t floats) {
  std::vector<float>& buf = buffers_[size_t(slot)];
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

void CpuBackend::allocate_kv_cache(const AttentionDims& dims) {
  dims_ = dims;
  kv_cache_.assign(size_t(dims.layers * 2 * dims.heads * dims.capacity * dims.head_dim), 0.0f);
}

void CpuBackend::embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte,
                       const WeightView& wpe, float* out) {
  cpu::embed(tokens, rows, start, wte, wpe, out);
}

void CpuBackend::layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                           float* out) {
  cpu::layernorm(pool_, x, rows, gamma, beta, eps, out);
}

void CpuBackend::matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                        Epilogue epilogue, float* out) {
  cpu::matmul(pool_, in, rows, w, bias, epilogue, out);
}

void CpuBackend::attention(int64_t layer, const float* qkv, int64_t rows, int64_t start, float* out) {
  const AttentionShape shape{dims_.heads, dims_.head_dim, dims_.capacity};
  float* cache = kv_cache_.data() + layer * 2 * dims_.heads * dims_.capacity * dims_.head_dim;
  kv_append(shape, qkv, rows, start, cache);
  cpu::attention(pool_, shape, qkv, rows, start, cache, out);
}

void CpuBackend::lm_head(const float* in, int64_t rows, const WeightView& wte, float* logits) {
  cpu::lm_head(pool_, in, rows, wte, logits);
}

void CpuBackend::read(const float* src, size_t count, float* host) {
  if (src != host) std::memcpy(host, src, count * sizeof(float));
}

void CpuBackend::sample_begin(const float* logits, int64_t vocab, const SamplingParams& params, double u) {
  sample_error_ = nullptr;
  try {
    sampled_ = sample_token(logits, vocab, params, u);
  } catch (...) {
    sample_error_ = std::current_exception();
  }
}

Sampled CpuBackend::sample_end() {
  if (sample_error_) std::rethrow_exception(std::exchange(sample_error_, nullptr));
  return sampled_;
}

}  // namespace gpt::cpu
