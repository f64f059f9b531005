#include "napi/cuda_info.h"

#include <string>

#if GPT_CUDA_ENABLED
#include "cuda/device.h"
#endif

namespace gpt::napi {

Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
#if GPT_CUDA_ENABLED
  uint32_t i = 0;
  for (const cuda::DeviceInfo& d : cuda::list_devices()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, d.name));
    o.Set("totalMemory", Napi::Number::New(env, double(d.total_memory)));
    o.Set("computeCapability", Napi::String::New(env, std::to_string(d.major) + "." + std::to_string(d.minor)));
    o.Set("multiprocessors", Napi::Number::New(env, d.multiprocessors));
    out.Set(i++, o);
  }
#endif
  return out;
}

void AddCudaBuildInfo(Napi::Env env, Napi::Object out) {
  Napi::Array archs = Napi::Array::New(env);
#if GPT_CUDA_ENABLED
  out.Set("cudaVersion", Napi::String::New(env, GPT_CUDA_VERSION));
  const std::string list = GPT_CUDA_ARCHS;  // "sm_80,sm_86,…,compute_90"
  uint32_t i = 0;
  for (size_t at = 0; at < list.size();) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    archs.Set(i++, Napi::String::New(env, list.substr(at, comma - at)));
    at = comma + 1;
  }
#else
  out.Set("cudaVersion", env.Null());
#endif
  out.Set("archs", archs);
}

}  // namespace gpt::napi
