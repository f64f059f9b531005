// The guard around every cudaOps and cudaBench function: a clear error when no CUDA device is
// visible or the argument is not an options object, and C++ exceptions turned into JS errors
// (std::invalid_argument, a launch constraint, into a RangeError).
#pragma once
#include <napi.h>

#include <stdexcept>
#include <string>

#include "cuda/device.h"

namespace gpt::napi {

// Runs body(env, options) for the function of `surface` ("cudaOps", "cudaBench") called with `info`.
template <typename Body>
Napi::Value with_cuda_device(const Napi::CallbackInfo& info, const char* surface, Body body) {
  Napi::Env env = info.Env();
  if (cuda::list_devices().empty())
    throw Napi::Error::New(env, std::string("gpt-cuda: ") + surface +
                                    " needs a CUDA device, and none is visible here (devices() is [])");
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, std::string(surface) + " functions take one options object");
  try {
    return body(env, info[0].As<Napi::Object>());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace gpt::napi
