#include "napi/model_wrap.h"

#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core/resource_error.h"
#include "core/sampler.h"
#include "cpu/cpu_backend.h"
#include "cpu/isa.h"
#if GPT_CUDA_ENABLED
#include "cuda/cuda_backend.h"
#endif
#include "napi/sampling_args.h"
#include "napi/spec.h"

namespace gpt::napi {

namespace {

std::unique_ptr<Backend> make_backend(const ModelSpec& spec) {
  if (spec.cuda_device < 0)
    return std::make_unique<cpu::CpuBackend>(spec.threads, spec.int8_matrices, spec.bf16_compute && cpu::use_amx());
  if (spec.int8_matrices) throw std::runtime_error("int8 weights are not supported on CUDA yet");
  if (spec.bf16_compute) throw std::runtime_error("compute bfloat16 is not supported on CUDA yet");
#if GPT_CUDA_ENABLED
  return cuda::make_cuda_backend(spec.cuda_device);
#else
  throw std::runtime_error("this binary was built without the CUDA backend (nvcc was not found at build time)");
#endif
}

struct AddonData {
  Napi::FunctionReference model_constructor;
};

// Runs a worker's completion body, which settles its promise. While the JavaScript environment is
// torn down (worker.terminate(), process.exit() in a worker) every N-API call fails, and a failed
// call throws here, out of node-addon-api's completion callback, where nothing catches it:
// std::terminate would take the whole process down. So a failure rejects the promise with it, and
// when even that fails — the environment is gone, nobody is left to tell — it is dropped.
template <typename Body>
void settle(Napi::Promise::Deferred& deferred, Body&& body) {
  try {
    body();
  } catch (const Napi::Error& e) {
    try {
      deferred.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }
}

class LoadWorker final : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ModelSpec spec)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), spec_(std::move(spec)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      auto weights = spec_.random_seed ? WeightStore::random(spec_.tensors, *spec_.random_seed)
                                       : std::make_unique<WeightStore>(spec_.files, spec_.tensors, spec_.convert_to, spec_.map_files);
      model_ = std::make_shared<Model>(spec_.config, std::move(weights), make_backend(spec_), spec_.kv_blocks);
    } catch (const ResourceError& e) {
      out_of_memory_ = true;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    settle(deferred_, [&] { deferred_.Resolve(ModelWrap::Wrap(Env(), model_, spec_.threads)); });
  }
  void OnError(const Napi::Error& e) override {
    settle(deferred_, [&] {
      // The memory a load could not get is the machine's limit, not the checkpoint's fault.
      if (out_of_memory_) e.Value().Set("code", "E_RESOURCE");
      deferred_.Reject(e.Value());
    });
  }

 private:
  Napi::Promise::Deferred deferred_;
  ModelSpec spec_;
  std::shared_ptr<Model> model_;
  bool out_of_memory_ = false;
};

// One engine step on a worker thread: resolves with {tokens, logprobs, logits} (NativeStepResult).
class StepWorker final : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<Model> model, std::shared_ptr<std::atomic<bool>> busy, StepPlan plan)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        busy_(std::move(busy)),
        plan_(std::move(plan)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      out_ = model_->step(plan_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    busy_->store(false);
    settle(deferred_, [&] { resolve(); });
  }
  void OnError(const Napi::Error& e) override {
    busy_->store(false);
    settle(deferred_, [&] { deferred_.Reject(e.Value()); });
  }

 private:
  void resolve() {
    Napi::Env env = Env();
    const size_t n = out_.sampled.size(), k = size_t(kMaxTopLogprobs);
    Napi::Int32Array tokens = Napi::Int32Array::New(env, n);
    Napi::Float32Array logprobs = Napi::Float32Array::New(env, n);
    Napi::Int32Array top_counts = Napi::Int32Array::New(env, n);
    Napi::Int32Array top_ids = Napi::Int32Array::New(env, n * k);
    Napi::Float32Array top_logprobs = Napi::Float32Array::New(env, n * k);
    for (size_t i = 0; i < n; ++i) {
      const Sampled& s = out_.sampled[i];
      tokens[i] = s.token;
      logprobs[i] = s.logprob;
      top_counts[i] = s.top_count;
      for (int j = 0; j < s.top_count; ++j) {
        top_ids[i * k + size_t(j)] = s.top_ids[size_t(j)];
        top_logprobs[i * k + size_t(j)] = s.top_logprobs[size_t(j)];
      }
    }
    auto owned = std::make_unique<std::vector<float>>(std::move(out_.logits));
    std::vector<float>* heap = owned.get();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, heap->data(), heap->size() * sizeof(float),
        [](Napi::Env, void*, std::vector<float>* logits) { delete logits; }, heap);
    owned.release();  // the buffer's finalizer owns it now
    Napi::Object result = Napi::Object::New(env);
    result.Set("tokens", tokens);
    result.Set("logprobs", logprobs);
    result.Set("topCounts", top_counts);
    result.Set("topIds", top_ids);
    result.Set("topLogprobs", top_logprobs);
    result.Set("logits", Napi::Float32Array::New(env, heap->size(), buffer, 0));
    deferred_.Resolve(result);
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<std::atomic<bool>> busy_;
  StepPlan plan_;
  StepOutput out_;
};

LogitsMode parse_mode(Napi::Env env, const Napi::Value& v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "all") return LogitsMode::kAll;
  if (s == "last") return LogitsMode::kLast;
  if (s == "none") return LogitsMode::kNone;
  throw Napi::TypeError::New(env, "logits mode must be \"all\", \"last\" or \"none\"");
}

Napi::Int32Array int32_array_field(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(obj.Env(), where + key + " must be an Int32Array");
  return v.As<Napi::Int32Array>();
}

int64_t integer_field(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = obj.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d == std::floor(d) && std::fabs(d) < 9007199254740992.0))
    throw Napi::TypeError::New(obj.Env(), where + key + " must be an integer");
  return int64_t(d);
}

// A NativeStep object (bindings.d.ts) as the model's StepPlan; the model checks the values.
StepPlan parse_step(Napi::Env env, const Napi::Value& arg) {
  if (!arg.IsObject()) throw Napi::TypeError::New(env, "step(plan: {tokens: Int32Array, segments: object[]})");
  Napi::Object obj = arg.As<Napi::Object>();
  StepPlan plan;
  Napi::Int32Array tokens = int32_array_field(obj, "tokens", "step: ");
  plan.tokens.assign(tokens.Data(), tokens.Data() + tokens.ElementLength());
  Napi::Value segments = obj.Get("segments");
  if (!segments.IsArray()) throw Napi::TypeError::New(env, "step: segments must be an array");
  Napi::Array list = segments.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string where = "step: segments[" + std::to_string(i) + "].";
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, where.substr(0, where.size() - 1) + " must be an object");
    Napi::Object seg = item.As<Napi::Object>();
    SegmentPlan s;
    s.rows = integer_field(seg, "rows", where);
    s.start = integer_field(seg, "start", where);
    Napi::Int32Array blocks = int32_array_field(seg, "blocks", where);
    s.blocks.assign(blocks.Data(), blocks.Data() + blocks.ElementLength());
    s.logits = parse_mode(env, seg.Get("logits"));
    Napi::Value sample = seg.Get("sample");
    if (!sample.IsUndefined() && !sample.IsNull()) {
      if (!sample.IsObject()) throw Napi::TypeError::New(env, where + "sample must be an object or null");
      s.sample = sampling_args(env, sample.As<Napi::Object>(), where + "sample");
    }
    plan.segments.push_back(std::move(s));
  }
  return plan;
}

}  // namespace

void ModelWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeModel",
                                    {
                                        InstanceMethod<&ModelWrap::Step>("step"),
                                        InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                        InstanceAccessor<&ModelWrap::KvBlocks>("kvBlocks"),
                                        InstanceAccessor<&ModelWrap::ResidentBytes>("residentBytes"),
                                        InstanceAccessor<&ModelWrap::KvCacheBytes>("kvCacheBytes"),
                                        InstanceAccessor<&ModelWrap::Threads>("threads"),
                                        InstanceAccessor<&ModelWrap::GraphReplays>("graphReplays"),
                                    });
  auto* data = new AddonData{Napi::Persistent(ctor)};
  env.SetInstanceData<AddonData>(data);
  exports.Set("NativeModel", ctor);
  exports.Set("loadModel", Napi::Function::New<LoadModel>(env, "loadModel"));
  exports.Set("kvBlockSize", Napi::Number::New(env, double(kKvBlockSize)));
}

Napi::Object ModelWrap::Wrap(Napi::Env env, std::shared_ptr<Model> model, int threads) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->model_constructor.New({});
  ModelWrap* self = ModelWrap::Unwrap(obj);
  self->model_ = std::move(model);
  self->threads_ = threads;
  return obj;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

Model& ModelWrap::model(Napi::Env env) {
  if (!model_) throw Napi::Error::New(env, "the model was disposed");
  return *model_;
}

Napi::Value ModelWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  model(env);
  StepPlan plan = parse_step(env, info[0]);
  if (busy_->exchange(true)) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(Napi::Error::New(env, "a step is already running on this model").Value());
    return deferred.Promise();
  }
  auto* worker = new StepWorker(env, model_, busy_, std::move(plan));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::KvBlocks(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(model(info.Env()).kv_blocks()));
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
