// cudaOps.*: single CUDA kernels on host arrays, for tests/cuda-kernels.test.ts, which checks each
// against its CPU twin. Not part of the public API. Each function throws a clear error when the
// binary has no CUDA backend or no device is visible.
#pragma once
#include <napi.h>

namespace gpt::napi {

Napi::Object CreateCudaOps(Napi::Env env);

}  // namespace gpt::napi
