// CudaBackend (see cuda_backend.h): memory management, dispatch to the kernel launchers, and the
// decode step's CUDA graph. No math here; each op is one or two launches on the backend's stream.
#include <cstdlib>
#include <cstring>
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

namespace {

// The decode step's token and position, as the graph's kernels read them.
struct StepInput {
  int32_t token;
  int32_t position;
};

// What crosses between host and device each step, in page-locked host memory so that both
// copies are truly asynchronous: the step's input, and the sampled token.
struct HostExchange {
  StepInput step;
  DeviceSampled sampled;
};

class PinnedExchange {
 public:
  PinnedExchange() { CUDA_CHECK(cudaMallocHost(&p_, sizeof(HostExchange))); }
  ~PinnedExchange() { cudaFreeHost(p_); }
  PinnedExchange(const PinnedExchange&) = delete;
  PinnedExchange& operator=(const PinnedExchange&) = delete;
  HostExchange* get() const { return p_; }

 private:
  HostExchange* p_ = nullptr;
};

size_t kv_cache_bytes_for(const AttentionDims& d) {
  return size_t(d.layers * 2 * d.heads * d.capacity * d.head_dim) * dtype_size(d.weight_dtype);
}

bool graphs_disabled_by_env() {
  const char* v = std::getenv("GPT_CUDA_GRAPH");
  return v && std::strcmp(v, "0") == 0;
}

}  // namespace

struct CudaBackend::State {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::vector<DeviceBuffer> weights;
  size_t weight_bytes = 0;
  DeviceBuffer slots[size_t(Slot::kCount)];
  DeviceBuffer kv_cache, workspace, tokens, sampled;
  AttentionDims dims{};
  DType kv_dtype = DType::F32;

  // The decode step (run_decode_step). While `in_step`, embed and attention read the token and
  // position from `step` (device memory) instead of their arguments.
  bool graphs = !graphs_disabled_by_env();
  bool in_step = false, capturing = false;
  std::unique_ptr<PinnedExchange> host;
  DeviceBuffer step;
  cudaGraphExec_t graph = nullptr;
  // Bumped whenever a buffer the graph may point into is reallocated: a graph recorded under an
  // older generation is stale. `warm` is the generation of the last eager step: a step is only
  // captured after one eager step has sized every buffer, so capture never allocates.
  uint64_t generation = 0, graph_generation = 0, warm = ~uint64_t(0);
  uint64_t replays = 0;

  // Makes this backend's device current on the calling thread (forward passes run on worker
  // threads, and the current device is per thread).
  void use() const { CUDA_CHECK(cudaSetDevice(device)); }

  // Grows `buf` to at least `bytes`; the stream is drained first, as kernels may still use it.
  // `in_graph`: the decode-step graph may point into it, so growing it makes the graph stale —
  // marked before the old memory is freed, in case the new allocation throws.
  void ensure(DeviceBuffer& buf, size_t bytes, const char* what, bool in_graph = true) {
    if (buf.bytes() >= bytes) return;
    if (capturing) throw std::logic_error(std::string("gpt-cuda: ") + what + " grew while a decode step was being captured");
    CUDA_CHECK(cudaStreamSynchronize(stream));
    if (in_graph) ++generation;
    buf = DeviceBuffer();
    buf = DeviceBuffer(bytes + bytes / 4, what);  // headroom: rows grow by one per decode step
  }

  float* workspace_floats(size_t floats) {
    ensure(workspace, floats * sizeof(float), "the split-K workspace");
    return workspace.get<float>();
  }

  const int32_t* step_token() const { return in_step ? &step.get<StepInput>()->token : nullptr; }
  const int32_t* step_position() const { return in_step ? &step.get<StepInput>()->position : nullptr; }

  void drop_graph() {
    if (graph) cudaGraphExecDestroy(graph);
    graph = nullptr;
  }

  // Records `body` on the stream into a graph and launches it once (capturing runs nothing).
  void capture(const std::function<void()>& body) {
    CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t recorded = nullptr;
    capturing = true;
    try {
      body();
    } catch (...) {
      capturing = false;
      cudaStreamEndCapture(stream, &recorded);  // ends the capture; what was recorded is dropped
      if (recorded) cudaGraphDestroy(recorded);
      cudaGetLastError();
      throw;
    }
    capturing = false;
    CUDA_CHECK(cudaStreamEndCapture(stream, &recorded));
    const cudaError_t made = cudaGraphInstantiate(&graph, recorded, 0);
    cudaGraphDestroy(recorded);
    if (made != cudaSuccess) graph = nullptr;
    CUDA_CHECK(made);
    graph_generation = generation;
    CUDA_CHECK(cudaGraphLaunch(graph, stream));
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
  // The stream last: State frees its buffers itself if this throws, but not the stream.
  s_->host = std::make_unique<PinnedExchange>();
  s_->step = DeviceBuffer(sizeof(StepInput), "the decode step's input");
  CUDA_CHECK(cudaStreamCreateWithFlags(&s_->stream, cudaStreamNonBlocking));
}

CudaBackend::~CudaBackend() {
  if (!s_) return;
  cudaSetDevice(s_->device);
  if (s_->stream) cudaStreamSynchronize(s_->stream);  // kernels may still read what is freed below
  s_->drop_graph();
  // DeviceBuffers free themselves as State is destroyed; the stream goes last.
  cudaStream_t stream = s_->stream;
  s_.reset();
  if (stream) cudaStreamDestroy(stream);
}

int CudaBackend::device() const { return s_->device; }
size_t CudaBackend::weight_bytes() const { return s_->weight_bytes; }
size_t CudaBackend::kv_cache_bytes() const { return s_->kv_cache.bytes(); }

void CudaBackend::check_fits(const std::vector<const WeightView*>& weights, const AttentionDims& dims) {
  s_->use();
  size_t weight_bytes = 0;
  for (const WeightView* w : weights)  // as adopt() will hold them: 1-D parameters widened to fp32
    weight_bytes += size_t(w->numel()) * (w->shape.size() == 1 ? sizeof(float) : dtype_size(w->dtype));
  const size_t kv_bytes = kv_cache_bytes_for(dims);
  require_free_memory(weight_bytes + kv_bytes, "the model",
                      "weights " + mib_text(weight_bytes) + " + KV cache " + mib_text(kv_bytes) + " for " +
                          std::to_string(dims.capacity) + " positions in " + dtype_name(dims.weight_dtype));
}

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
  s_->kv_dtype = dims.weight_dtype;
  const size_t bytes = kv_cache_bytes_for(dims);
  s_->drop_graph();
  s_->kv_cache = DeviceBuffer();
  s_->kv_cache = DeviceBuffer(bytes, "the KV cache (" + std::to_string(dims.capacity) + " positions in " +
                                         dtype_name(s_->kv_dtype) + ")");
  ++s_->generation;
  CUDA_CHECK(cudaMemsetAsync(s_->kv_cache.get(), 0, bytes, s_->stream));
}

void CudaBackend::embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte,
                        const WeightView& wpe, float* out) {
  s_->use();
  const int32_t* ids = s_->step_token();
  if (!ids) {
    s_->ensure(s_->tokens, size_t(rows) * sizeof(int32_t), "the token ids", false);  // a step reads `step`
    CUDA_CHECK(cudaMemcpyAsync(s_->tokens.get(), tokens, size_t(rows) * sizeof(int32_t), cudaMemcpyHostToDevice,
                               s_->stream));
    ids = s_->tokens.get<int32_t>();
  }
  cuda::embed(ids, rows, start, s_->step_position(), wte.shape[1], wte.data, wte.dtype, wpe.data, wpe.dtype, out,
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
  const size_t layer_bytes = size_t(2 * d.heads * d.capacity * d.head_dim) * dtype_size(s_->kv_dtype);
  AttentionCall call{};
  call.qkv = qkv;
  call.rows = rows;
  // In a decode step the position comes from device memory; the launch is sized for the last one.
  call.start = s_->in_step ? d.capacity - rows : start;
  call.device_start = s_->step_position();
  call.cache = s_->kv_cache.get<char>() + size_t(layer) * layer_bytes;
  call.cache_dtype = s_->kv_dtype;
  call.out = out;
  // Only the decode path (rows ≤ kDecodeMaxQueries under kAuto) uses the workspace.
  const size_t ws = rows <= kDecodeMaxQueries ? attention_workspace_floats(shape, rows) : 0;
  cuda::attention(shape, call, AttentionPath::kAuto, ws ? s_->workspace_floats(ws) : nullptr, ws, s_->stream);
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

void CudaBackend::sample_begin(const float* logits, int64_t vocab, const SamplingParams& params, double u) {
  s_->use();
  s_->ensure(s_->sampled, sizeof(DeviceSampled), "the sampling result", false);  // sampled outside the graph
  cuda::sample(logits, vocab, params, u, s_->sampled.get<DeviceSampled>(), s_->stream);
  CUDA_CHECK(cudaMemcpyAsync(&s_->host->get()->sampled, s_->sampled.get(), sizeof(DeviceSampled),
                             cudaMemcpyDeviceToHost, s_->stream));
}

Sampled CudaBackend::sample_end() {
  s_->use();
  CUDA_CHECK(cudaStreamSynchronize(s_->stream));  // also where a fault in any kernel of the step surfaces
  return sampled_or_throw(s_->host->get()->sampled);
}

void CudaBackend::wait() {
  s_->use();
  CUDA_CHECK(cudaStreamSynchronize(s_->stream));
}

void CudaBackend::run_decode_step(int32_t token, int64_t start, const std::function<void()>& step) {
  State& s = *s_;
  s.use();
  // Every step before this one was waited for (sample_end, read, or wait when a prefetched step
  // is dropped), so the pinned input is no longer being copied and may be rewritten.
  s.host->get()->step = StepInput{token, int32_t(start)};
  CUDA_CHECK(cudaMemcpyAsync(s.step.get(), &s.host->get()->step, sizeof(StepInput), cudaMemcpyHostToDevice, s.stream));
  s.in_step = true;
  struct EndStep {
    State& s;
    ~EndStep() { s.in_step = false; }
  } end_step{s};

  if (s.graphs && s.graph && s.graph_generation == s.generation) {
    CUDA_CHECK(cudaGraphLaunch(s.graph, s.stream));
    ++s.replays;
    return;
  }
  s.drop_graph();
  if (!s.graphs || s.warm != s.generation) {
    step();
    s.warm = s.generation;
    return;
  }
  try {
    s.capture(step);
    ++s.replays;
  } catch (const std::exception&) {
    // A step that cannot be captured still runs, eagerly, from now on; decode_steps_replayed()
    // (NativeModel.graphReplays, checked by the GPU tests) shows that graphs are off.
    s.drop_graph();
    s.graphs = false;
    step();
  }
}

uint64_t CudaBackend::decode_steps_replayed() const { return s_->replays; }

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace gpt::cuda
