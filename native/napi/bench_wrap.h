// bench.*: the timing side of `npm run bench` (bench/run.ts). Kernels are timed here, in C++,
// on one persistent thread pool, so neither JS nor thread start-up is inside the clock; and the
// machine's own memory read bandwidth is measured, STREAM-style, as the yardstick for decode.
// Synchronous: each call blocks the JS thread while it runs. Not part of the public API.
#pragma once
#include <napi.h>

namespace gpt::napi {

Napi::Object CreateBench(Napi::Env env);

}  // namespace gpt::napi
