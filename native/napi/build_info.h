// buildInfo(): how this binary was built and what the CPU path uses on this machine.
#pragma once
#include <napi.h>

namespace gpt::napi {

Napi::Value BuildInfo(const Napi::CallbackInfo& info);

}  // namespace gpt::napi
