// NativeModel: the JS handle of a loaded Gpt2Model. Loading and forward passes run on libuv's
// worker threads (the event loop keeps turning); forwardSample samples there too, sample() on
// host logits is quick and runs inline.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <optional>

#include "core/gpt2.h"
#include "core/sampler.h"

namespace gpt::napi {

// Sampling parameters and the uniform number for one forwardSample call, and the one for the
// step after it, when the caller lets it start early (Gpt2Model::forward_sample).
struct ForwardSampling {
  SamplingParams params;
  double u;
  std::optional<double> u_next;
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Gpt2Model> model, int threads);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value ForwardSample(const Napi::CallbackInfo& info);
  Napi::Value Sample(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value CachedLength(const Napi::CallbackInfo& info);
  Napi::Value ResidentBytes(const Napi::CallbackInfo& info);
  Napi::Value KvCacheBytes(const Napi::CallbackInfo& info);
  Napi::Value Threads(const Napi::CallbackInfo& info);
  Napi::Value GraphReplays(const Napi::CallbackInfo& info);

  Gpt2Model& model(Napi::Env env);
  // Starts a ForwardWorker on info[0] (tokens) and info[1] (start), unless one is running.
  Napi::Value queue_forward(const Napi::CallbackInfo& info, LogitsMode mode, std::optional<ForwardSampling> sampling);

  // Shared with the in-flight worker, so dispose() during a forward pass frees the model only
  // when that pass has finished.
  std::shared_ptr<Gpt2Model> model_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
  int threads_ = 1;
};

// loadModel(spec): Promise<NativeModel>
Napi::Value LoadModel(const Napi::CallbackInfo& info);

}  // namespace gpt::napi
