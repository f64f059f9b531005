#include "napi/model_wrap.h"

#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core/sampler.h"
#include "cpu/cpu_backend.h"
#if GPT_CUDA_ENABLED
#include "cuda/cuda_backend.h"
#endif
#include "napi/spec.h"

namespace gpt::napi {

namespace {

std::unique_ptr<Backend> make_backend(const ModelSpec& spec) {
  if (spec.cuda_device < 0) return std::make_unique<cpu::CpuBackend>(spec.threads);
#if GPT_CUDA_ENABLED
  return cuda::make_cuda_backend(spec.cuda_device);
#else
  throw std::runtime_error("this binary was built without the CUDA backend (nvcc was not found at build time)");
#endif
}

struct AddonData {
  Napi::FunctionReference model_constructor;
};

class LoadWorker final : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ModelSpec spec)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), spec_(std::move(spec)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      auto weights = spec_.random_seed ? WeightStore::random(spec_.tensors, *spec_.random_seed)
                                       : std::make_unique<WeightStore>(spec_.files, spec_.tensors, spec_.convert_to);
      std::unique_ptr<Backend> backend = make_backend(spec_);
      const bool asynchronous = backend->asynchronous();
      model_ = std::make_shared<Gpt2Model>(spec_.config, std::move(weights), std::move(backend));
      model_->set_prefetch(spec_.prefetch_next_step.value_or(asynchronous));
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(ModelWrap::Wrap(Env(), model_, spec_.threads)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  ModelSpec spec_;
  std::shared_ptr<Gpt2Model> model_;
};

// One forward pass on a worker thread: resolves with the logits (a Float32Array), or, when
// sampling parameters are given, with the token sampled from the last row ({token, logprob}).
class ForwardWorker final : public Napi::AsyncWorker {
 public:
  ForwardWorker(Napi::Env env, std::shared_ptr<Gpt2Model> model, std::shared_ptr<std::atomic<bool>> busy,
                std::vector<int32_t> tokens, int64_t start, LogitsMode mode, std::optional<ForwardSampling> sampling)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        busy_(std::move(busy)),
        tokens_(std::move(tokens)),
        start_(start),
        mode_(mode),
        sampling_(sampling) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      const int64_t count = int64_t(tokens_.size());
      if (sampling_)
        sampled_ = model_->forward_sample(tokens_.data(), count, start_, sampling_->params, sampling_->u,
                                          sampling_->u_next);
      else
        logits_ = model_->forward(tokens_.data(), count, start_, mode_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    busy_->store(false);
    Napi::Env env = Env();
    if (sampling_) {
      Napi::Object out = Napi::Object::New(env);
      out.Set("token", Napi::Number::New(env, sampled_.token));
      out.Set("logprob", Napi::Number::New(env, sampled_.logprob));
      deferred_.Resolve(out);
      return;
    }
    auto* heap = new std::vector<float>(std::move(logits_));
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, heap->data(), heap->size() * sizeof(float),
        [](Napi::Env, void*, std::vector<float>* owned) { delete owned; }, heap);
    deferred_.Resolve(Napi::Float32Array::New(env, heap->size(), buffer, 0));
  }
  void OnError(const Napi::Error& e) override {
    busy_->store(false);
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Gpt2Model> model_;
  std::shared_ptr<std::atomic<bool>> busy_;
  std::vector<int32_t> tokens_;
  int64_t start_;
  LogitsMode mode_;
  std::optional<ForwardSampling> sampling_;
  std::vector<float> logits_;
  Sampled sampled_{};
};

// info[first … first + 3] = temperature, topK, topP, u; `call` names the method in errors.
ForwardSampling parse_sampling(const Napi::CallbackInfo& info, size_t first, const std::string& call) {
  Napi::Env env = info.Env();
  for (size_t i = first; i < first + 4; ++i) {
    if (!info[i].IsNumber())
      throw Napi::TypeError::New(env, call + ": temperature, topK, topP and u must be numbers");
    if (!std::isfinite(info[i].As<Napi::Number>().DoubleValue()))
      throw Napi::RangeError::New(env, call + ": temperature, topK, topP and u must be finite numbers");
  }
  const double temperature = info[first].As<Napi::Number>().DoubleValue();
  const double top_k = info[first + 1].As<Napi::Number>().DoubleValue();
  const double top_p = info[first + 2].As<Napi::Number>().DoubleValue();
  const double u = info[first + 3].As<Napi::Number>().DoubleValue();
  // The ranges lib/options.ts enforces; anything else here is a caller's bug, named plainly.
  const auto fail = [&](const std::string& what, double v, const char* limit) {
    std::ostringstream text;
    text << call << ": " << what << " " << v << " " << limit;
    return Napi::RangeError::New(env, text.str());
  };
  if (temperature < 0) throw fail("temperature", temperature, "is negative");
  if (top_k < 0 || top_k != std::floor(top_k)) throw fail("topK", top_k, "is not a non-negative integer");
  if (!(top_p >= 0 && top_p <= 1)) throw fail("topP", top_p, "is outside [0, 1]");
  if (!(u >= 0 && u < 1)) throw fail("u", u, "is outside [0, 1)");
  ForwardSampling s;
  s.params.temperature = float(temperature);
  s.params.top_k = int64_t(top_k);
  s.params.top_p = float(top_p);
  s.u = u;
  return s;
}

bool is_int32_array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
}

LogitsMode parse_mode(Napi::Env env, const Napi::Value& v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "all") return LogitsMode::kAll;
  if (s == "last") return LogitsMode::kLast;
  if (s == "none") return LogitsMode::kNone;
  throw Napi::TypeError::New(env, "logits mode must be \"all\", \"last\" or \"none\"");
}

}  // namespace

void ModelWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeModel",
                                    {
                                        InstanceMethod<&ModelWrap::Forward>("forward"),
                                        InstanceMethod<&ModelWrap::ForwardSample>("forwardSample"),
                                        InstanceMethod<&ModelWrap::Sample>("sample"),
                                        InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                        InstanceAccessor<&ModelWrap::CachedLength>("cachedLength"),
                                        InstanceAccessor<&ModelWrap::ResidentBytes>("residentBytes"),
                                        InstanceAccessor<&ModelWrap::KvCacheBytes>("kvCacheBytes"),
                                        InstanceAccessor<&ModelWrap::Threads>("threads"),
                                        InstanceAccessor<&ModelWrap::GraphReplays>("graphReplays"),
                                    });
  auto* data = new AddonData{Napi::Persistent(ctor)};
  env.SetInstanceData<AddonData>(data);
  exports.Set("NativeModel", ctor);
  exports.Set("loadModel", Napi::Function::New<LoadModel>(env, "loadModel"));
}

Napi::Object ModelWrap::Wrap(Napi::Env env, std::shared_ptr<Gpt2Model> model, int threads) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->model_constructor.New({});
  ModelWrap* self = ModelWrap::Unwrap(obj);
  self->model_ = std::move(model);
  self->threads_ = threads;
  return obj;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

Gpt2Model& ModelWrap::model(Napi::Env env) {
  if (!model_) throw Napi::Error::New(env, "the model was disposed");
  return *model_;
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  model(env);
  if (info.Length() < 3 || !is_int32_array(info[0]) || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "forward(tokens: Int32Array, start: number, logits: mode)");
  return queue_forward(info, parse_mode(env, info[2]), std::nullopt);
}

Napi::Value ModelWrap::ForwardSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  model(env);
  const std::string usage = "forwardSample(tokens: Int32Array, start, temperature, topK, topP, u, uNext?)";
  if (info.Length() < 6 || !is_int32_array(info[0]) || !info[1].IsNumber()) throw Napi::TypeError::New(env, usage);
  ForwardSampling sampling = parse_sampling(info, 2, "forwardSample");
  if (info.Length() > 6 && !info[6].IsUndefined()) {
    const double u_next = info[6].IsNumber() ? info[6].As<Napi::Number>().DoubleValue() : -1.0;
    if (!(u_next >= 0 && u_next < 1))
      throw Napi::RangeError::New(env, "forwardSample: uNext must be a number in [0, 1)");
    sampling.u_next = u_next;
  }
  return queue_forward(info, LogitsMode::kLast, sampling);
}

Napi::Value ModelWrap::queue_forward(const Napi::CallbackInfo& info, LogitsMode mode,
                                     std::optional<ForwardSampling> sampling) {
  Napi::Env env = info.Env();
  Napi::Int32Array tokens = info[0].As<Napi::Int32Array>();
  if (busy_->exchange(true)) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(Napi::Error::New(env, "a forward pass is already running on this model").Value());
    return deferred.Promise();
  }
  std::vector<int32_t> copy(tokens.Data(), tokens.Data() + tokens.ElementLength());
  auto* worker = new ForwardWorker(env, model_, busy_, std::move(copy),
                                   int64_t(info[1].As<Napi::Number>().Int64Value()), mode, sampling);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value ModelWrap::Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t vocab = model(env).config().vocab_size;
  if (info.Length() < 6 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "sample(logits: Float32Array, row, temperature, topK, topP, u)");
  Napi::Float32Array logits = info[0].As<Napi::Float32Array>();
  const int64_t row = info[1].As<Napi::Number>().Int64Value();
  if (row < 0 || (row + 1) * vocab > int64_t(logits.ElementLength()))
    throw Napi::RangeError::New(env, "sample: row " + std::to_string(row) + " is outside the logits");
  const ForwardSampling s = parse_sampling(info, 2, "sample");
  try {
    Sampled r = sample_token(logits.Data() + row * vocab, vocab, s.params, s.u);
    Napi::Object out = Napi::Object::New(env);
    out.Set("token", Napi::Number::New(env, r.token));
    out.Set("logprob", Napi::Number::New(env, r.logprob));
    return out;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::CachedLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(model(info.Env()).cached_length()));
}

Napi::Value ModelWrap::ResidentBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(model(info.Env()).weights().resident_bytes()));
}

Napi::Value ModelWrap::KvCacheBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(model(info.Env()).backend().kv_cache_bytes()));
}

Napi::Value ModelWrap::GraphReplays(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(model(info.Env()).backend().decode_steps_replayed()));
}

Napi::Value ModelWrap::Threads(const Napi::CallbackInfo& info) {
  model(info.Env());
  return Napi::Number::New(info.Env(), threads_);
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "loadModel(spec: object)");
  auto* worker = new LoadWorker(env, read_model_spec(info[0].As<Napi::Object>()));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace gpt::napi
