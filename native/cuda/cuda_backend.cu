// CudaBackend (see cuda_backend.h): memory management, dispatch to the kernel launchers, and the
// decode steps' CUDA graphs. No math here; each op is one or two launches on the backend's stream.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/device_buffer.cuh"
#include "cuda/embedding.cuh"
#include "cuda/layernorm.cuh"
#include "cuda/matmul.cuh"
#include "cuda/rotary.cuh"
#include "cuda/rows.cuh"
#include "cuda/sampling.cuh"

namespace gpt::cuda {

namespace {

// Page-locked host memory, so that copies from and to it are truly asynchronous; grows on demand.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (p_) cudaFreeHost(p_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  // At least `bytes`; the old contents are lost when it grows. The caller makes sure no copy
  // from or to it is in flight.
  template <typename T>
  T* get(size_t bytes) {
    if (bytes > bytes_) {
      if (p_) cudaFreeHost(p_);
      p_ = nullptr;
      bytes_ = 0;
      CUDA_CHECK(cudaMallocHost(&p_, bytes));
      bytes_ = bytes;
    }
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

size_t kv_pool_bytes(const KvPoolDims& d) {
  // One block more than the pool hands out: the scratch block of padding rows.
  return size_t(d.layers * 2 * (d.blocks + 1) * d.kv_heads * kKvBlockSize * d.head_dim) * dtype_size(d.weight_dtype);
}

bool graphs_disabled_by_env() {
  const char* v = std::getenv("GPT_CUDA_GRAPH");
  return v && std::strcmp(v, "0") == 0;
}

// A recorded decode step and the buffer generation it was recorded under.
struct Recording {
  cudaGraphExec_t exec = nullptr;
  uint64_t generation = 0;
};

}  // namespace

struct CudaBackend::State {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::vector<DeviceBuffer> weights;
  size_t weight_bytes = 0;
  DeviceBuffer slots[size_t(Slot::kCount)];
  DeviceBuffer kv_pool, workspace, sampled, gather;
  DeviceBuffer adjustments, adjusted;  // sample(): the rows' logit adjustments, and one adjusted row
  KvPoolDims dims{};
  std::vector<AttentionSpec> attention;  // per layer
  DeviceBuffer alibi_slopes;             // one per query head, when a layer uses ALiBi
  DeviceBuffer rope_inv_freq;            // rotary_dims / 2, when a layer rotates

  // The step's layout on the device: tokens[rows_cap] | positions[rows_cap] | table_starts[rows_cap]
  // | tables[tables_cap], filled from `staging` by begin_step.
  DeviceBuffer layout;
  int64_t rows_cap = 0, tables_cap = 0;
  PinnedBuffer staging, gather_staging, sampled_host, adjustments_host;
  int64_t step_rows = 0, step_max_positions = 0;
  // While a decode step runs with graphs on, attention is launched for n_positions, so that a
  // recording of the step serves every later position.
  bool in_decode_step = false;

  bool graphs = !graphs_disabled_by_env();
  bool capturing = false;
  std::map<int64_t, Recording> recordings;  // by padded row count
  std::map<int64_t, uint64_t> warm;         // the generation each row count last ran eagerly under
  // Bumped whenever a buffer a recording may point into is reallocated: a recording made under an
  // older generation is stale. A size is only captured after one eager step of that size has
  // sized every buffer, so capture never allocates.
  uint64_t generation = 0;
  uint64_t replays = 0;

  // Makes this backend's device current on the calling thread (steps run on worker threads, and
  // the current device is per thread).
  void use() const { CUDA_CHECK(cudaSetDevice(device)); }

  // Grows `buf` to at least `bytes`; the stream is drained first, as kernels may still use it.
  // `in_graph`: a recording may point into it, so growing it makes the recordings stale —
  // marked before the old memory is freed, in case the new allocation throws.
  void ensure(DeviceBuffer& buf, size_t bytes, const char* what, bool in_graph = true) {
    if (buf.bytes() >= bytes) return;
    if (capturing) throw std::logic_error(std::string("gpt-cuda: ") + what + " grew while a decode step was being captured");
    CUDA_CHECK(cudaStreamSynchronize(stream));
    if (in_graph) ++generation;
    buf = DeviceBuffer();
    buf = DeviceBuffer(bytes + bytes / 4, what);  // headroom: batches grow a row at a time
  }

  float* workspace_floats(size_t floats) {
    if (floats == 0) return nullptr;
    ensure(workspace, floats * sizeof(float), "the split-K workspace");
    return workspace.get<float>();
  }

  const int32_t* d_tokens() const { return layout.get<int32_t>(); }
  const int32_t* d_positions() const { return layout.get<int32_t>() + rows_cap; }
  const int32_t* d_table_starts() const { return layout.get<int32_t>() + 2 * rows_cap; }
  const int32_t* d_tables() const { return layout.get<int32_t>() + 3 * rows_cap; }

  DeviceLayout device_layout() const {
    return DeviceLayout{d_positions(), d_table_starts(), d_tables(), step_rows,
                        in_decode_step && graphs ? dims.max_positions : step_max_positions};
  }

  void drop_recordings() {
    for (auto& [rows, r] : recordings)
      if (r.exec) cudaGraphExecDestroy(r.exec);
    recordings.clear();
  }

  // Records `body` on the stream into a graph for `rows` and launches it once (capturing runs nothing).
  void capture(int64_t rows, const std::function<void()>& body) {
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
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, recorded, 0);
    cudaGraphDestroy(recorded);
    CUDA_CHECK(made);
    recordings[rows] = Recording{exec, generation};
    CUDA_CHECK(cudaGraphLaunch(exec, stream));
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
  CUDA_CHECK(cudaStreamCreateWithFlags(&s_->stream, cudaStreamNonBlocking));
}

CudaBackend::~CudaBackend() {
  if (!s_) return;
  cudaSetDevice(s_->device);
  if (s_->stream) cudaStreamSynchronize(s_->stream);  // kernels may still read what is freed below
  s_->drop_recordings();
  // DeviceBuffers free themselves as State is destroyed; the stream goes last.
  cudaStream_t stream = s_->stream;
  s_.reset();
  if (stream) cudaStreamDestroy(stream);
}

int CudaBackend::device() const { return s_->device; }
size_t CudaBackend::weight_bytes() const { return s_->weight_bytes; }
size_t CudaBackend::kv_cache_bytes() const { return s_->kv_pool.bytes(); }

void CudaBackend::check_fits(const std::vector<const WeightView*>& weights, const KvPoolDims& dims) {
  s_->use();
  size_t weight_bytes = 0;
  for (const WeightView* w : weights)  // as adopt() will hold them: 1-D parameters widened to fp32
    weight_bytes += size_t(w->numel()) * (w->shape.size() == 1 ? sizeof(float) : dtype_size(w->dtype));
  const size_t kv_bytes = kv_pool_bytes(dims);
  require_free_memory(weight_bytes + kv_bytes, "the model",
                      "weights " + mib_text(weight_bytes) + " + KV cache " + mib_text(kv_bytes) + " for " +
                          std::to_string(dims.blocks * kKvBlockSize) + " tokens in " + dtype_name(dims.weight_dtype));
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

void CudaBackend::allocate_kv_pool(const KvPoolDims& dims) {
  s_->use();
  s_->dims = dims;
  const size_t bytes = kv_pool_bytes(dims);
  s_->drop_recordings();
  s_->kv_pool = DeviceBuffer();
  s_->kv_pool = DeviceBuffer(bytes, "the KV cache (" + std::to_string(dims.blocks * kKvBlockSize) + " tokens in " +
                                        dtype_name(dims.weight_dtype) + ")");
  ++s_->generation;
  CUDA_CHECK(cudaMemsetAsync(s_->kv_pool.get(), 0, bytes, s_->stream));
}

void CudaBackend::begin_step(const StepLayout& layout) {
  State& s = *s_;
  s.use();
  // The previous step's copies out of the staging memory must be done before it is rewritten.
  CUDA_CHECK(cudaStreamSynchronize(s.stream));
  if (layout.rows > s.rows_cap || layout.table_entries > s.tables_cap) {
    // Room for this many rows each with a full-context block table, so that the tables of later
    // steps of the same size never move the buffer a recording points into.
    const int64_t rows_cap = std::max(layout.rows + layout.rows / 4, s.rows_cap);
    const int64_t tables_cap = std::max(layout.table_entries, rows_cap * ((s.dims.max_positions + kKvBlockSize - 1) / kKvBlockSize));
    s.ensure(s.layout, size_t(3 * rows_cap + tables_cap) * sizeof(int32_t), "the step's layout");
    // The recordings baked in where the arrays start inside the buffer: new offsets make them stale.
    if (rows_cap != s.rows_cap) ++s.generation;
    s.rows_cap = rows_cap;
    s.tables_cap = tables_cap;
  }
  const size_t used = size_t(3 * s.rows_cap + layout.table_entries);
  int32_t* host = s.staging.get<int32_t>(used * sizeof(int32_t));
  const size_t row_bytes = size_t(layout.rows) * sizeof(int32_t);
  std::memcpy(host, layout.tokens, row_bytes);
  std::memcpy(host + s.rows_cap, layout.positions, row_bytes);
  std::memcpy(host + 2 * s.rows_cap, layout.table_starts, row_bytes);
  std::memcpy(host + 3 * s.rows_cap, layout.tables, size_t(layout.table_entries) * sizeof(int32_t));
  CUDA_CHECK(cudaMemcpyAsync(s.layout.get(), host, used * sizeof(int32_t), cudaMemcpyHostToDevice, s.stream));
  s.step_rows = layout.rows;
  s.step_max_positions = 1;
  for (int64_t r = 0; r < layout.rows; ++r)
    s.step_max_positions = std::max<int64_t>(s.step_max_positions, int64_t(layout.positions[r]) + 1);
}

void CudaBackend::embed(const int32_t* tokens, int64_t rows, const WeightView& wte, const WeightView& wpe,
                        float* out) {
  (void)tokens;  // the layout's, copied to the device by begin_step
  s_->use();
  cuda::embed(s_->d_tokens(), s_->d_positions(), rows, wte.data ? wte.shape[1] : wpe.shape[1], wte.data, wte.dtype,
              wpe.data, wpe.dtype, out,
              s_->stream);
}

void CudaBackend::layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                            float* out) {
  s_->use();
  cuda::layernorm(x, rows, gamma.shape[0], static_cast<const float*>(gamma.data),
                  static_cast<const float*>(beta.data), eps, out, s_->stream);
}

void CudaBackend::rmsnorm(const float* x, int64_t rows, const WeightView& gamma, float eps, float* out) {
  s_->use();
  cuda::rmsnorm(x, rows, gamma.shape[0], static_cast<const float*>(gamma.data), eps, out, s_->stream);
}

void CudaBackend::matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                         Epilogue epilogue, float* out) {
  s_->use();
  const int64_t K = w.shape[0], N = w.shape[1];
  const size_t ws = matmul_workspace_floats(rows, K, N, w.dtype);
  cuda::matmul(in, rows, K, N, w.data, w.dtype, static_cast<const float*>(bias.data), epilogue, out,
               MatmulPath::kAuto, s_->workspace_floats(ws), ws, s_->stream);
}

void CudaBackend::set_attention(const AttentionSetup& setup) {
  State& s = *s_;
  s.use();
  const KvPoolDims& d = s.dims;
  const std::string w = "gpt-cuda: set_attention: ";
  if (int64_t(setup.layers.size()) != d.layers)
    throw std::invalid_argument(w + std::to_string(setup.layers.size()) + " layer specs for " +
                                std::to_string(d.layers) + " layers");
  bool alibi = false;
  int64_t rotary_dims = 0;
  for (const AttentionSpec& spec : setup.layers) {
    alibi = alibi || spec.alibi;
    if (spec.rotary_dims < 0 || spec.rotary_dims % 2 || spec.rotary_dims > d.head_dim)
      throw std::invalid_argument(w + "rotary_dims " + std::to_string(spec.rotary_dims) +
                                  " is not even in 0 … head_dim " + std::to_string(d.head_dim));
    rotary_dims = std::max(rotary_dims, spec.rotary_dims);
  }
  if (alibi && int64_t(setup.alibi_slopes.size()) != d.q_heads)
    throw std::invalid_argument(w + std::to_string(setup.alibi_slopes.size()) + " ALiBi slopes for " +
                                std::to_string(d.q_heads) + " query heads");
  if (int64_t(setup.rope_inv_freq.size()) < rotary_dims / 2)
    throw std::invalid_argument(w + std::to_string(setup.rope_inv_freq.size()) + " rotary frequencies for " +
                                std::to_string(rotary_dims) + " rotated dims");
  const auto upload = [&](DeviceBuffer& buf, const std::vector<float>& host, const char* what) {
    buf = DeviceBuffer();
    if (host.empty()) return;
    buf = DeviceBuffer(host.size() * sizeof(float), what);
    CUDA_CHECK(cudaMemcpy(buf.get(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
  };
  // The recordings point at the old buffers (once, after allocate_kv_pool, there are none).
  s.drop_recordings();
  ++s.generation;
  s.attention = setup.layers;
  upload(s.alibi_slopes, alibi ? setup.alibi_slopes : std::vector<float>{}, "ALiBi's slopes");
  upload(s.rope_inv_freq, rotary_dims > 0 ? setup.rope_inv_freq : std::vector<float>{}, "the rotary frequencies");
}

void CudaBackend::attention(int64_t layer, float* qkv, int64_t rows, float* out) {
  (void)rows;  // the step's layout has them
  State& s = *s_;
  s.use();
  const KvPoolDims& d = s.dims;
  const AttentionShape shape{d.q_heads, d.kv_heads, d.head_dim};
  const size_t layer_bytes =
      size_t((d.blocks + 1) * d.kv_heads * kKvBlockSize * d.head_dim) * dtype_size(d.weight_dtype);
  char* k = s.kv_pool.get<char>() + size_t(layer) * 2 * layer_bytes;
  const DevicePool pool{k, k + layer_bytes, d.weight_dtype};
  const DeviceLayout layout = s.device_layout();
  const AttentionSpec& spec = s.attention.at(size_t(layer));
  if (spec.rotary_dims > 0) {
    // q and k rotated in place by the positions begin_step put on the device (a recorded decode
    // step replays this launch with each step's positions).
    const RotaryArgs rotary{d.q_heads, d.kv_heads, d.head_dim, spec.rotary_dims, spec.rotary_interleaved,
                            s.rope_inv_freq.get<float>()};
    cuda::rotary(rotary, qkv, layout.rows, layout.positions, s.stream);
  }
  kv_append(shape, qkv, layout, pool, s.stream);
  const size_t ws = attention_workspace_floats(shape, layout.rows, layout.max_positions);
  const AttentionVariant variant{spec.scale, spec.window, spec.alibi ? s.alibi_slopes.get<float>() : nullptr};
  cuda::attention(shape, variant, qkv, layout, pool, out, s.workspace_floats(ws), ws, s.stream);
}

void CudaBackend::gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst) {
  State& s = *s_;
  s.use();
  // Once per step, after begin_step waited for the stream: the staging memory is free.
  const size_t bytes = size_t(count) * sizeof(int32_t);
  int32_t* host = s.gather_staging.get<int32_t>(bytes);
  std::memcpy(host, rows, bytes);
  s.ensure(s.gather, bytes, "the rows to gather", false);
  CUDA_CHECK(cudaMemcpyAsync(s.gather.get(), host, bytes, cudaMemcpyHostToDevice, s.stream));
  cuda::gather_rows(src, width, s.gather.get<int32_t>(), count, dst, s.stream);
}

void CudaBackend::lm_head(const float* in, int64_t rows, const WeightView& wte, const WeightView& bias,
                          float* logits) {
  s_->use();
  cuda::lm_head(in, rows, wte.shape[1], wte.shape[0], wte.data, wte.dtype, static_cast<const float*>(bias.data),
                logits, MatmulPath::kAuto, s_->stream);
}

void CudaBackend::read(const float* src, size_t count, float* host) {
  s_->use();
  CUDA_CHECK(cudaMemcpyAsync(host, src, count * sizeof(float), cudaMemcpyDeviceToHost, s_->stream));
  CUDA_CHECK(cudaStreamSynchronize(s_->stream));  // also where a fault in any kernel of the step surfaces
}

void CudaBackend::sample(const float* logits, int64_t vocab, const int32_t* rows, const SampleRequest* requests,
                         int64_t count, Sampled* out) {
  State& s = *s_;
  s.use();
  const size_t bytes = size_t(count) * sizeof(DeviceSampled);
  s.ensure(s.sampled, bytes, "the sampling results", false);  // sampled outside the recordings
  DeviceSampled* results = s.sampled.get<DeviceSampled>();
  // Every row's adjustments go up in one copy; the rows share one adjusted-row buffer, as the
  // stream runs them one after another.
  size_t total = 0;
  for (int64_t i = 0; i < count; ++i) total += requests[i].adjustments.size();
  const DeviceAdjustment* device_adj = nullptr;
  float* adjusted = nullptr;
  if (total > 0) {
    const size_t adj_bytes = total * sizeof(DeviceAdjustment);
    DeviceAdjustment* staged = s.adjustments_host.get<DeviceAdjustment>(adj_bytes);
    size_t at = 0;
    for (int64_t i = 0; i < count; ++i) {
      device_adjustments(requests[i], considered_vocab(requests[i], vocab), staged + at);
      at += requests[i].adjustments.size();
    }
    s.ensure(s.adjustments, adj_bytes, "the logit adjustments", false);
    s.ensure(s.adjusted, size_t(vocab) * sizeof(float), "the adjusted logits", false);
    CUDA_CHECK(cudaMemcpyAsync(s.adjustments.get(), staged, adj_bytes, cudaMemcpyHostToDevice, s.stream));
    device_adj = s.adjustments.get<DeviceAdjustment>();
    adjusted = s.adjusted.get<float>();
  }
  size_t at = 0;
  for (int64_t i = 0; i < count; ++i) {
    cuda::sample(logits + int64_t(rows[i]) * vocab, considered_vocab(requests[i], vocab), requests[i],
                 device_adj ? device_adj + at : nullptr, adjusted,
                 results + i, s.stream);
    at += requests[i].adjustments.size();
  }
  DeviceSampled* host = s.sampled_host.get<DeviceSampled>(bytes);
  CUDA_CHECK(cudaMemcpyAsync(host, results, bytes, cudaMemcpyDeviceToHost, s.stream));
  CUDA_CHECK(cudaStreamSynchronize(s.stream));  // also where a fault in any kernel of the step surfaces
  for (int64_t i = 0; i < count; ++i) out[i] = sampled_or_throw(host[i]);
}

int64_t CudaBackend::decode_rows_padded(int64_t rows) const {
  if (!s_->graphs) return rows;
  int64_t padded = 1;
  while (padded < rows) padded *= 2;
  return padded;
}

void CudaBackend::run_decode_step(int64_t rows, const std::function<void()>& step) {
  State& s = *s_;
  s.use();
  s.in_decode_step = true;
  struct EndStep {
    State& s;
    ~EndStep() { s.in_decode_step = false; }
  } end_step{s};

  const auto found = s.recordings.find(rows);
  if (s.graphs && found != s.recordings.end() && found->second.generation == s.generation) {
    CUDA_CHECK(cudaGraphLaunch(found->second.exec, s.stream));
    ++s.replays;
    return;
  }
  if (found != s.recordings.end()) {
    if (found->second.exec) cudaGraphExecDestroy(found->second.exec);
    s.recordings.erase(found);
  }
  const auto warm = s.warm.find(rows);
  if (!s.graphs || warm == s.warm.end() || warm->second != s.generation) {
    step();
    s.warm[rows] = s.generation;
    return;
  }
  try {
    s.capture(rows, step);
    ++s.replays;
  } catch (const std::exception&) {
    // A step that cannot be captured still runs, eagerly, from now on; decode_steps_replayed()
    // (NativeModel.graphReplays, checked by the GPU tests) shows that graphs are off.
    s.drop_recordings();
    s.graphs = false;
    step();
  }
}

uint64_t CudaBackend::decode_steps_replayed() const { return s_->replays; }

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace gpt::cuda
