#include "cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>

#include "cpu/matmul.h"
#include "cpu/norm.h"
#include "cpu/panels.h"
#include "cpu/quantize.h"
#include "cpu/rotary.h"
#include "cpu/tiles.h"

namespace gpt::cpu {

CpuBackend::CpuBackend(int threads, bool int8_matrices, bool bf16_tiles)
    : pool_(threads), int8_matrices_(int8_matrices), bf16_tiles_(bf16_tiles) {}

void CpuBackend::FreeDeleter::operator()(unsigned char* p) const { std::free(p); }

unsigned char* CpuBackend::own(size_t bytes) {
  auto* buf = static_cast<unsigned char*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096));
  if (!buf) throw std::bad_alloc();
  matrices_.emplace_back(buf);
  return buf;
}

WeightView CpuBackend::adopt_matrix(const WeightView& host) {
  if (host.shape.size() != 2 || host.panel != 0) return host;
  WeightView packed = host;
  if (bf16_tiles_) {
    packed.dtype = DType::BF16;
    packed.tiles = true;
    packed.data = own(packed.bytes());
    pack_tiles(host, static_cast<uint16_t*>(const_cast<void*>(packed.data)));
    return packed;
  }
  packed.panel = panel_columns(host.shape[1], pool_.size());
  if (int8_matrices_)
    return own_int8(packed, host.shape[1], [&](float* scales, int8_t* values) {
      int8_column_scales(host, scales);
      int8_pack_panels(host, packed.panel, scales, values);
    });
  packed.data = own(size_t(host.numel()) * dtype_size(host.dtype));
  pack_panels(host, packed.panel, const_cast<void*>(packed.data));
  return packed;
}

WeightView CpuBackend::adopt_table(const WeightView& host, bool looked_up,
                                   const std::function<void(int64_t first, int64_t count)>& done_with) {
  if (host.shape.size() != 2 || host.panel != 0 || host.transposed) return host;
  WeightView packed = host;
  packed.transposed = true;
  packed.panel = panel_columns(host.shape[0], pool_.size());
  if (int8_matrices_) {
    // The head reads one byte per weight; the embedding of a tied table reads the stored rows,
    // exactly ("embeddings stay as they are"), so they stay: a byte per weight more in memory.
    packed = own_int8(packed, host.shape[0], [&](float* scales, int8_t* values) {
      int8_token_scales(host, scales);
      int8_pack_transposed_panels(host, packed.panel, scales, values);
    });
    if (looked_up) {
      packed.rows = host.data;
      packed.rows_dtype = host.dtype;
    } else {
      done_with(0, host.shape[0]);
    }
    return packed;
  }
  packed.data = own(size_t(host.numel()) * dtype_size(host.dtype));
  pack_transposed_panels(host, packed.panel, const_cast<void*>(packed.data), done_with);
  return packed;
}

WeightView CpuBackend::own_int8(WeightView packed, int64_t scale_count,
                                const std::function<void(float* scales, int8_t* values)>& fill) {
  auto* scales = reinterpret_cast<float*>(own(size_t(scale_count) * sizeof(float)));
  auto* values = reinterpret_cast<int8_t*>(own(size_t(packed.numel())));
  fill(scales, values);
  packed.dtype = DType::I8;
  packed.data = values;
  packed.scales = scales;
  return packed;
}

float* CpuBackend::buffer(Slot slot, size_t floats) {
  std::vector<float>& buf = buffers_[size_t(slot)];
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

void CpuBackend::allocate_kv_pool(const KvPoolDims& dims) {
  shape_ = AttentionShape{dims.q_heads, dims.kv_heads, dims.head_dim};
  kv_.reset();
  kv_ = std::make_unique<KvPool>(dims);
}

void CpuBackend::embed(const int32_t* tokens, int64_t rows, const WeightView& wte, const WeightView& wpe,
                       float* out) {
  if (!wte.rows) return cpu::embed(tokens, layout_.positions, rows, wte, wpe, out);
  WeightView stored;  // an int8 table's exact rows (adopt_table)
  stored.data = wte.rows;
  stored.dtype = wte.rows_dtype;
  stored.shape = wte.shape;
  cpu::embed(tokens, layout_.positions, rows, stored, wpe, out);
}

void CpuBackend::layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                           float* out) {
  cpu::layernorm(pool_, x, rows, gamma, beta, eps, out);
}

void CpuBackend::rmsnorm(const float* x, int64_t rows, const WeightView& gamma, float eps, float* out) {
  cpu::rmsnorm(pool_, x, rows, gamma, eps, out);
}

void CpuBackend::matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                        Epilogue epilogue, float* out) {
  cpu::matmul(pool_, in, rows, w, bias, epilogue, out);
}

void CpuBackend::set_attention(const AttentionSetup& setup) { attention_ = setup; }

void CpuBackend::attention(int64_t layer, float* qkv, int64_t rows, float* out) {
  const AttentionSpec& spec = attention_.layers.at(size_t(layer));
  if (spec.rotary_dims > 0)
    cpu::rotary(pool_,
                RotaryShape{shape_.q_heads, shape_.kv_heads, shape_.head_dim, spec.rotary_dims, spec.rotary_interleaved,
                            attention_.rope_inv_freq.data()},
                qkv, rows, layout_.positions);
  const PagedLayer kv = kv_->layer(layer);
  kv_append(shape_, qkv, layout_, kv);
  cpu::attention(pool_, shape_,
                 AttentionVariant{spec.scale, spec.window, spec.alibi ? attention_.alibi_slopes.data() : nullptr}, qkv,
                 layout_, kv, out);
}

void CpuBackend::gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst) {
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(dst + i * width, src + int64_t(rows[i]) * width, size_t(width) * sizeof(float));
}

void CpuBackend::lm_head(const float* in, int64_t rows, const WeightView& wte, const WeightView& bias,
                         float* logits) {
  // The table as adopt_table keeps it: a matrix product over [C, V], the bias its epilogue's.
  if (wte.transposed) return cpu::matmul(pool_, in, rows, wte.matrix(), bias, Epilogue::kStore, logits);
  cpu::lm_head(pool_, in, rows, wte, logits);
  if (!bias.data) return;
  const int64_t V = wte.shape[0];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < V; ++v) logits[r * V + v] += bias.at(v);
}

void CpuBackend::read(const float* src, size_t count, float* host) {
  if (src != host) std::memcpy(host, src, count * sizeof(float));
}

void CpuBackend::sample(const float* logits, int64_t vocab, const int32_t* rows, const SampleRequest* requests,
                        int64_t count, Sampled* out) {
  std::mutex failed;
  std::exception_ptr error;
  pool_.parallel_for(count, [&](int64_t i) {
    try {
      out[i] = sample_token(logits + int64_t(rows[i]) * vocab, considered_vocab(requests[i], vocab), requests[i]);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failed);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace gpt::cpu
