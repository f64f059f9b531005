// devices() and the CUDA fields of buildInfo(): what this binary was compiled for and which GPUs
// the CUDA runtime sees. Both work in a binary built without CUDA (no devices, no version).
#pragma once
#include <napi.h>

namespace gpt::napi {

// devices(): [{ name, totalMemory, computeCapability: "9.0", multiprocessors }], [] without a
// driver or GPU.
Napi::Value Devices(const Napi::CallbackInfo& info);

// Adds cudaVersion (the nvcc release, or null) and archs (["sm_80", …, "compute_90"]) to `out`.
void AddCudaBuildInfo(Napi::Env env, Napi::Object out);

}  // namespace gpt::napi
