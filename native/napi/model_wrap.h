// NativeModel: the JS handle of a loaded Model. Loading and engine steps run on libuv's
// worker threads (the event loop keeps turning); sample() on host logits is quick and runs inline.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "core/model.h"
#include "core/sampler.h"

namespace gpt::napi {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Model> model, int threads);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value KvBlocks(const Napi::CallbackInfo& info);
  Napi::Value ResidentBytes(const Napi::CallbackInfo& info);
  Napi::Value KvCacheBytes(const Napi::CallbackInfo& info);
  Napi::Value Threads(const Napi::CallbackInfo& info);
  Napi::Value GraphReplays(const Napi::CallbackInfo& info);

  Model& model(Napi::Env env);

  // Shared with the in-flight worker, so dispose() during a step frees the model only when that
  // step has finished.
  std::shared_ptr<Model> model_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
  int threads_ = 1;
};

// loadModel(spec): Promise<NativeModel>
Napi::Value LoadModel(const Napi::CallbackInfo& info);

}  // namespace gpt::napi
