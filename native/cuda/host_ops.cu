// The cudaOps test surface (see host_ops.h): upload, launch on the default stream, download.
#include <string>
#include <vector>

#include "cuda/attention.cuh"
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
  DeviceBuffer d_in = upload(in, size_t(M * K) * 4), d_w = upload(w), d_out = upload(out, size_t(M * N) * 4);
  DeviceBuffer d_bias = bias ? upload(bias, size_t(N) * 4) : DeviceBuffer();
  const size_t ws_floats = matmul_workspace_floats(M, N);
  DeviceBuffer ws(ws_floats * 4, "the split-K workspace");
  matmul(d_in.get<float>(), M, K, N, d_w.get(), w.dtype, d_bias.get<float>(), epilogue, d_out.get<float>(), path,
         ws.get<float>(), ws_floats, nullptr);
  download(d_out, out);
}

void host_lm_head(const float* in, int64_t M, const WeightView& wte, MatmulPath path, float* logits) {
  const int64_t V = wte.shape[0], C = wte.shape[1];
  DeviceBuffer d_in = upload(in, size_t(M * C) * 4), d_w = upload(wte), d_out = upload(logits, size_t(M * V) * 4);
  lm_head(d_in.get<float>(), M, C, V, d_w.get(), wte.dtype, d_out.get<float>(), path, nullptr);
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

void host_embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte, const WeightView& wpe,
                float* out) {
  const int64_t C = wte.shape[1];
  DeviceBuffer d_t = upload(tokens, size_t(rows) * 4), d_wte = upload(wte), d_wpe = upload(wpe);
  DeviceBuffer d_out = upload(out, size_t(rows * C) * 4);
  embed(d_t.get<int32_t>(), rows, start, nullptr, C, d_wte.get(), wte.dtype, d_wpe.get(), wpe.dtype, d_out.get<float>(),
        nullptr);
  download(d_out, out);
}

void host_attention(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, float* cache,
                    DType cache_dtype, bool start_on_device, AttentionPath path, float* out) {
  const int64_t C = s.heads * s.head_dim;
  const size_t cache_n = size_t(2 * s.heads * s.capacity * s.head_dim);
  DeviceBuffer d_qkv = upload(qkv, size_t(rows * 3 * C) * 4);
  DeviceBuffer d_cache;
  if (cache_dtype == DType::F32) {
    d_cache = upload(cache, cache_n * 4);
  } else {
    std::vector<uint16_t> bits(cache_n);
    for (size_t i = 0; i < cache_n; ++i)
      bits[i] = cache_dtype == DType::F16 ? f32_to_f16(cache[i]) : f32_to_bf16(cache[i]);
    d_cache = upload(bits.data(), cache_n * 2);
  }
  DeviceBuffer d_out = upload(out, size_t(rows * C) * 4);
  const size_t ws_floats = attention_workspace_floats(s, rows);
  DeviceBuffer ws(ws_floats * 4, "the attention workspace");
  AttentionCall call{d_qkv.get<float>(), rows, start, nullptr, d_cache.get(), cache_dtype, d_out.get<float>()};
  DeviceBuffer d_start;
  if (start_on_device) {
    // The kernels trust the device value to be at most the bound: check it here.
    GPT_REQUIRE(start >= 0 && start + rows <= s.capacity && start <= INT32_MAX,
                "host_attention: start " + std::to_string(start) + " + rows " + std::to_string(rows) +
                    " must lie within the cache capacity " + std::to_string(s.capacity));
    const int32_t start32 = int32_t(start);
    d_start = upload(&start32, 4);
    call.device_start = d_start.get<int32_t>();
    call.start = s.capacity - rows;
  }
  attention(s, call, path, ws.get<float>(), ws_floats, nullptr);
  if (cache_dtype == DType::F32) {
    download(d_cache, cache);
  } else {
    std::vector<uint16_t> bits(cache_n);
    download(d_cache, bits.data());
    for (size_t i = 0; i < cache_n; ++i)
      cache[i] = cache_dtype == DType::F16 ? f16_to_f32(bits[i]) : bf16_to_f32(bits[i]);
  }
  download(d_out, out);
}

Sampled host_sample(const float* logits, int64_t vocab, const SamplingParams& params, double u) {
  DeviceBuffer d_l = upload(logits, size_t(vocab) * 4);
  DeviceBuffer d_r(sizeof(DeviceSampled), "the sampling result");
  sample(d_l.get<float>(), vocab, params, u, d_r.get<DeviceSampled>(), nullptr);
  DeviceSampled r;
  download(d_r, &r);
  return sampled_or_throw(r);
}

}  // namespace gpt::cuda
