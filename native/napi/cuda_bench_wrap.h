// cudaBench.*: the GPU side of `npm run bench -- --device cuda` (bench/lib/kernels.ts). Single
// CUDA kernels timed with CUDA events at a model's shapes (cuda/kernel_timing.h). Synchronous:
// each call blocks the JS thread while it runs. Not part of the public API. Each function throws
// a clear error when the binary has no CUDA backend or no device is visible.
#pragma once
#include <napi.h>

namespace gpt::napi {

Napi::Object CreateCudaBench(Napi::Env env);

}  // namespace gpt::napi
