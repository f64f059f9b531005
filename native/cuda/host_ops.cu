// The cudaOps test surface (see host_ops.h): upload, launch on the default stream, download.
#include <algorithm>
#include <string>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/rotary.cuh"
#include "cuda/device_buffer.cuh"
#include "cuda/embedding.cuh"
#include "cuda/host_ops.h"
#include "cuda/layernorm.cuh"
#include "cuda/matmul.cuh"
#include "cuda/sampling.cuh"

namespace gpt::cuda {

namespace {

DeviceBuffer upload(const void* host, size_t bytes) {
  DeviceBuffer buf(bytes, "a test input");
  if (bytes) CUDA_CHECK(cudaMemcpy(buf.get(), host, bytes, cudaMemcpyHostToDevice));
  return buf;
}

DeviceBuffer upload(const WeightView& w) { return upload(w.data, size_t(w.numel()) * dtype_size(w.dtype)); }

void download(const DeviceBuffer& buf, void* host) {
  CUDA_CHECK(cudaDeviceSynchronize());  // a fault in the kernel surfaces here, named
  CUDA_CHECK(cudaMemcpy(host, buf.get(), buf.bytes(), cudaMemcpyDeviceToHost));
}

}  // namespace

void host_matmul(const float* in, int64_t M, const WeightView& w, const float* bias, Epilogue epilogue,
                 MatmulPath path, float* out) {
  const int64_t K = w.shape[0], N = w.shape[1];
  DeviceBuffer d_in = upload(in, size_t(M * K) * 4), d_w = upload(w);
  DeviceBuffer d_out = upload(out, size_t(M * epilogue_width(epilogue, N)) * 4);
  DeviceBuffer d_bias = bias ? upload(bias, size_t(N) * 4) : DeviceBuffer();
  const size_t ws_floats = matmul_workspace_floats(M, K, N, w.dtype);
  DeviceBuffer ws(ws_floats * 4, "the split-K workspace");
  matmul(d_in.get<float>(), M, K, N, d_w.get(), w.dtype, d_bias.get<float>(), epilogue, d_out.get<float>(), path,
         ws.get<float>(), ws_floats, nullptr);
  download(d_out, out);
}

void host_lm_head(const float* in, int64_t M, const WeightView& wte, const float* bias, MatmulPath path,
                  float* logits) {
  const int64_t V = wte.shape[0], C = wte.shape[1];
  DeviceBuffer d_in = upload(in, size_t(M * C) * 4), d_w = upload(wte), d_out = upload(logits, size_t(M * V) * 4);
  DeviceBuffer d_bias = bias ? upload(bias, size_t(V) * 4) : DeviceBuffer();
  lm_head(d_in.get<float>(), M, C, V, d_w.get(), wte.dtype, d_bias.get<float>(), d_out.get<float>(), path, nullptr);
  download(d_out, logits);
}

void host_layernorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, const float* beta,
                    float eps, float* out) {
  const size_t bytes = size_t(rows * C) * 4;
  DeviceBuffer d_x = upload(x, bytes), d_out = upload(out, bytes);
  DeviceBuffer d_g = upload(gamma, size_t(C) * 4), d_b = upload(beta, size_t(C) * 4);
  if (add) {
    DeviceBuffer d_add = upload(add, bytes);
    add_layernorm(d_x.get<float>(), d_add.get<float>(), rows, C, d_g.get<float>(), d_b.get<float>(), eps,
                  d_out.get<float>(), nullptr);
    download(d_x, x);
  } else {
    layernorm(d_x.get<float>(), rows, C, d_g.get<float>(), d_b.get<float>(), eps, d_out.get<float>(), nullptr);
  }
  download(d_out, out);
}

void host_rmsnorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, float eps, float* out) {
  const size_t bytes = size_t(rows * C) * 4;
  DeviceBuffer d_x = upload(x, bytes), d_out = upload(out, bytes), d_g = upload(gamma, size_t(C) * 4);
  if (add) {
    DeviceBuffer d_add = upload(add, bytes);
    add_rmsnorm(d_x.get<float>(), d_add.get<float>(), rows, C, d_g.get<float>(), eps, d_out.get<float>(), nullptr);
    download(d_x, x);
  } else {
    rmsnorm(d_x.get<float>(), rows, C, d_g.get<float>(), eps, d_out.get<float>(), nullptr);
  }
  download(d_out, out);
}

void host_rotary(const RotaryArgs& a, float* qkv, int64_t rows, const int32_t* positions) {
  const size_t bytes = size_t(rows * (a.q_heads + 2 * a.kv_heads) * a.head_dim) * 4;
  DeviceBuffer d_qkv = upload(qkv, bytes), d_pos = upload(positions, size_t(rows) * 4);
  DeviceBuffer d_freq = upload(a.inv_freq, size_t(a.dims / 2) * 4);
  RotaryArgs d = a;
  d.inv_freq = d_freq.get<float>();
  rotary(d, d_qkv.get<float>(), rows, d_pos.get<int32_t>(), nullptr);
  download(d_qkv, qkv);
}

void host_embed(const int32_t* tokens, const int32_t* positions, int64_t rows, const WeightView& wte,
                const WeightView& wpe, float* out) {
  const int64_t C = wte.shape[1];
  DeviceBuffer d_t = upload(tokens, size_t(rows) * 4), d_p = upload(positions, size_t(rows) * 4);
  DeviceBuffer d_wte = upload(wte), d_wpe = upload(wpe), d_out = upload(out, size_t(rows * C) * 4);
  embed(d_t.get<int32_t>(), d_p.get<int32_t>(), rows, C, d_wte.get(), wte.dtype, d_wpe.get(), wpe.dtype,
        d_out.get<float>(), nullptr);
  download(d_out, out);
}

void host_attention(const AttentionShape& s, const AttentionVariant& v, const float* qkv, const StepLayout& layout,
                    int64_t blocks, float* pool, DType cache_dtype, float* out) {
  const int64_t C = s.q_heads * s.head_dim, rows = layout.rows;
  const size_t half = size_t(blocks * s.kv_heads * kKvBlockSize * s.head_dim), pool_n = 2 * half;
  DeviceBuffer d_qkv = upload(qkv, size_t(rows * s.qkv_width()) * 4);
  DeviceBuffer d_pool;
  if (cache_dtype == DType::F32) {
    d_pool = upload(pool, pool_n * 4);
  } else {
    std::vector<uint16_t> bits(pool_n);
    for (size_t i = 0; i < pool_n; ++i) bits[i] = cache_dtype == DType::F16 ? f32_to_f16(pool[i]) : f32_to_bf16(pool[i]);
    d_pool = upload(bits.data(), pool_n * 2);
  }
  DeviceBuffer d_positions = upload(layout.positions, size_t(rows) * 4);
  DeviceBuffer d_starts = upload(layout.table_starts, size_t(rows) * 4);
  DeviceBuffer d_tables = upload(layout.tables, size_t(layout.table_entries) * 4);
  DeviceBuffer d_out = upload(out, size_t(rows * C) * 4);
  int64_t max_positions = 1;
  for (int64_t r = 0; r < rows; ++r) max_positions = std::max<int64_t>(max_positions, int64_t(layout.positions[r]) + 1);
  const DeviceLayout d_layout{d_positions.get<int32_t>(), d_starts.get<int32_t>(), d_tables.get<int32_t>(), rows,
                              max_positions};
  char* k = d_pool.get<char>();
  const DevicePool d_kv{k, k + half * dtype_size(cache_dtype), cache_dtype};
  const size_t ws_floats = attention_workspace_floats(s, rows, max_positions);
  DeviceBuffer ws(ws_floats * 4, "the attention workspace");
  kv_append(s, d_qkv.get<float>(), d_layout, d_kv, nullptr);
  DeviceBuffer d_slopes = v.slopes ? upload(v.slopes, size_t(s.q_heads) * 4) : DeviceBuffer();
  const AttentionVariant d_variant{v.scale, v.window, v.slopes ? d_slopes.get<float>() : nullptr};
  attention(s, d_variant, d_qkv.get<float>(), d_layout, d_kv, d_out.get<float>(), ws.get<float>(), ws_floats, nullptr);
  if (cache_dtype == DType::F32) {
    download(d_pool, pool);
  } else {
    std::vector<uint16_t> bits(pool_n);
    download(d_pool, bits.data());
    for (size_t i = 0; i < pool_n; ++i) pool[i] = cache_dtype == DType::F16 ? f16_to_f32(bits[i]) : bf16_to_f32(bits[i]);
  }
  download(d_out, out);
}

Sampled host_sample(const float* logits, int64_t vocab, const SampleRequest& request) {
  DeviceBuffer d_l = upload(logits, size_t(vocab) * 4);
  std::vector<DeviceAdjustment> adj(request.adjustments.size());
  device_adjustments(request, vocab, adj.data());
  DeviceBuffer d_adj = upload(adj.data(), adj.size() * sizeof(DeviceAdjustment));
  DeviceBuffer d_adjusted(adj.empty() ? 0 : size_t(vocab) * 4, "the adjusted logits");
  DeviceBuffer d_r(sizeof(DeviceSampled), "the sampling result");
  sample(d_l.get<float>(), vocab, request, d_adj.get<DeviceAdjustment>(), d_adjusted.get<float>(),
         d_r.get<DeviceSampled>(), nullptr);
  DeviceSampled r;
  download(d_r, &r);
  return sampled_or_throw(r);
}

}  // namespace gpt::cuda
