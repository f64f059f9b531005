// ops.*: single CPU kernels exposed for tests/ops.test.ts, which checks each fast path against
// its reference twin on random inputs. Not part of the public API.
#pragma once
#include <napi.h>

namespace gpt::napi {

Napi::Object CreateOps(Napi::Env env);

}  // namespace gpt::napi
