// CudaBackend (see cuda_backend.h): memory management and dispatch to the kernel launchers.
// No math here; each op is one or two launches on the backend's stream.
#include <string>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/device_buffer.cuh"
#include "cuda/embedding.cuh"
#include "cuda/layernorm.cuh"
#include "cuda/matmul.cuh"
#include "cuda/sampling.cuh"

namespace gpt::cuda {

struct CudaBackend::State {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::vector<DeviceBuffer> weights;
  size_t weight_bytes = 0;
  DeviceBuffer slots[size_t(Slot::kCount)];
  DeviceBuffer kv_cache, workspace, tokens, sampled;
  AttentionDims dims{};

  // Makes this backend's device current on the calling thread (forward passes run on worker
  // threads, and the current device is per thread).
  void use() const { CUDA_CHECK(cudaSetDevice(device)); }

  // Grows `buf` to at least `bytes`; the stream is drained first, as kernels may still use it.
  void ensure(DeviceBuffer& buf, size_t bytes, const char* what) {
    if (buf.bytes() >= bytes) return;
    CUDA_CHECK(cudaStreamSynchronize(stream));
    buf = DeviceBuffer();
    buf = DeviceBuffer(bytes + bytes / 4, what);  // headroom: rows grow by one per decode step
  }

  float* workspace_floats(size_t floats) {
    ensure(workspace, floats * sizeof(float), "the split-K workspace");
    return workspace.get<float>();
  }
};

CudaBackend::CudaBackend(int device) : s_(std::make_unique<State>()) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    count = 0;
  }
  if (device < 0 || device >= count)
    throw std::runtime_error("gpt-cuda: CUDA device " + std::to_string(device) + " does not exist (" +
                             std::to_string(count) + " device" + (count == 1 ? "" : "s") + " found)");
  s_->device = device;
  s_->use();
  CUDA_CHECK(cudaStreamCreateWithFlags(&s_->stream, cudaStreamNonBlocking));
}

CudaBackend::~CudaBackend() {
  if (!s_) return;
  cudaSetDevice(s_->device);
  if (s_->stream) cudaStreamSynchronize(s_->stream);  // kernels may still read what is freed below
  // DeviceBuffers free themselves as State is destroyed; the stream goes last.
  cudaStream_t stream = s_->stream;
  s_.reset();
  if (stream) cudaStreamDestroy(stream);
}

int CudaBackend::device() const { return s_->device; }
size_t CudaBackend::weight_bytes() const { return s_->weight_bytes; }
size_t CudaBackend::kv_cache_bytes() const { return s_->kv_cache.bytes(); }

WeightView CudaBackend::adopt(const WeightView& host) {
  s_->use();
  WeightView dev = host;
  const std::string what = "a weight of " + std::to_string(host.numel()) + " elements";
  if (host.shape.size() == 1) {
    // Biases and LayerNorm parameters: widened once here so the kernels read fp32.
    std::vector<float> wide(size_t(host.numel()));
    for (int64_t i = 0; i < host.numel(); ++i) wide[size_t(i)] = host.at(i);
    DeviceBuffer buf(wide.size() * sizeof(float), what);
    CUDA_CHECK(cudaMemcpy(buf.get(), wide.data(), buf.bytes(), cudaMemcpyHostToDevice));
    dev.dtype = DType::F32;
    dev.data = buf.get();
    s_->weight_bytes += buf.bytes();
    s_->weights.push_back(std::move(buf));
  } else {
    DeviceBuffer buf(size_t(host.numel()) * dtype_size(host.dtype), what);
    CUDA_CHECK(cudaMemcpy(buf.get(), host.data, buf.bytes(), cudaMemcpyHostToDevice));
    dev.data = buf.get();
    s_->weight_bytes += buf.bytes();
    s_->weights.push_back(std::move(buf));
  }
  return dev;
}

float* CudaBackend::buffer(Slot slot, size_t floats) {
  s_->use();
  DeviceBuffer& buf = s_->slots[size_t(slot)];
  s_->ensure(buf, floats * sizeof(float), "an activation buffer");
  return buf.get<float>();
}

void CudaBackend::allocate_kv_cache(const AttentionDims& dims) {
  s_->use();
  s_->dims = dims;
  const size_t bytes = size_t(dims.layers * 2 * dims.heads * dims.capacity * dims.head_dim) * sizeof(float);
  s_->kv_cache = DeviceBuffer();
  s_->kv_cache = DeviceBuffer(bytes, "the KV cache (" + std::to_string(dims.capacity) + " positions)");
  CUDA_CHECK(cudaMemsetAsync(s_->kv_cache.get(), 0, bytes, s_->stream));
}

void CudaBackend::embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte,
                        const WeightView& wpe, float* out) {
  s_->use();
  s_->ensure(s_->tokens, size_t(rows) * sizeof(int32_t), "the token ids");
  CUDA_CHECK(cudaMemcpyAsync(s_->tokens.get(), tokens, size_t(rows) * sizeof(int32_t), cudaMemcpyHostToDevice,
                             s_->stream));
  cuda::embed(s_->tokens.get<int32_t>(), rows, start, wte.shape[1], wte.data, wte.dtype, wpe.data, wpe.dtype, out,
              s_->stream);
}

void CudaBackend::layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                            float* out) {
  s_->use();
  cuda::layernorm(x, rows, gamma.shape[0], static_cast<const float*>(gamma.data),
                  static_cast<const float*>(beta.data), eps, out, s_->stream);
}

void CudaBackend::matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                         Epilogue epilogue, float* out) {
  s_->use();
  const int64_t K = w.shape[0], N = w.shape[1];
  const size_t ws = matmul_workspace_floats(rows, N);
  cuda::matmul(in, rows, K, N, w.data, w.dtype, static_cast<const float*>(bias.data), epilogue, out,
               MatmulPath::kAuto, s_->workspace_floats(ws), ws, s_->stream);
}

void CudaBackend::attention(int64_t layer, const float* qkv, int64_t rows, int64_t start, float* out) {
  s_->use();
  const AttentionDims& d = s_->dims;
  const AttentionShape shape{d.heads, d.head_dim, d.capacity};
  float* cache = s_->kv_cache.get<float>() + layer * 2 * d.heads * d.capacity * d.head_dim;
  kv_append(shape, qkv, rows, start, cache, s_->stream);
  const size_t ws = attention_workspace_floats(shape, rows);
  cuda::attention(shape, qkv, rows, start, cache, out, AttentionPath::kAuto, s_->workspace_floats(ws), ws,
                  s_->stream);
}

void CudaBackend::lm_head(const float* in, int64_t rows, const WeightView& wte, float* logits) {
  s_->use();
  cuda::lm_head(in, rows, wte.shape[1], wte.shape[0], wte.data, wte.dtype, logits, MatmulPath::kAuto, s_->stream);
}

void CudaBackend::read(const float* src, size_t count, float* host) {
  s_->use();
  CUDA_CHECK(cudaMemcpyAsync(host, src, count * sizeof(float), cudaMemcpyDeviceToHost, s_->stream));
  CUDA_CHECK(cudaStreamSynchronize(s_->stream));  // also where a fault in any kernel of the pass surfaces
}

Sampled CudaBackend::sample(const float* logits, int64_t vocab, const SamplingParams& params, double u) {
  s_->use();
  s_->ensure(s_->sampled, sizeof(DeviceSampled), "the sampling result");
  cuda::sample(logits, vocab, params, u, s_->sampled.get<DeviceSampled>(), s_->stream);
  DeviceSampled r;
  CUDA_CHECK(cudaMemcpyAsync(&r, s_->sampled.get(), sizeof r, cudaMemcpyDeviceToHost, s_->stream));
  CUDA_CHECK(cudaStreamSynchronize(s_->stream));
  return sampled_or_throw(r);
}

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace gpt::cuda
