// The addon's entry point: registers the exports typed in bindings.d.ts, and nothing else.
#include <napi.h>

#include "napi/bench_wrap.h"
#include "napi/build_info.h"
#include "napi/cuda_bench_wrap.h"
#include "napi/cuda_info.h"
#include "napi/cuda_ops_wrap.h"
#include "napi/model_wrap.h"
#include "napi/ops_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  gpt::napi::ModelWrap::Register(env, exports);
  exports.Set("buildInfo", Napi::Function::New<gpt::napi::BuildInfo>(env, "buildInfo"));
  exports.Set("ops", gpt::napi::CreateOps(env));
  exports.Set("devices", Napi::Function::New<gpt::napi::Devices>(env, "devices"));
  exports.Set("cudaOps", gpt::napi::CreateCudaOps(env));
  exports.Set("bench", gpt::napi::CreateBench(env));
  exports.Set("cudaBench", gpt::napi::CreateCudaBench(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(gpt_cuda, Init)
