#include "napi/build_info.h"

#include <thread>

#include "cpu/isa.h"
#include "napi/cuda_info.h"

namespace gpt::napi {

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("cuda", Napi::Boolean::New(env, GPT_CUDA_ENABLED != 0));
  out.Set("cpuIsa", Napi::String::New(env, cpu::isa_name(cpu::cpu_isa())));
  out.Set("hardwareThreads", Napi::Number::New(env, double(std::thread::hardware_concurrency())));
  out.Set("compiler", Napi::String::New(env, __VERSION__));
  AddCudaBuildInfo(env, out);
  return out;
}

}  // namespace gpt::napi
