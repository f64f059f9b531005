// The step layout that the attention test surfaces (ops.attention, cudaOps.attention) take: the
// fields positions, tableStarts and tables of an options object, checked against the rows and
// the pool's blocks, as a StepLayout pointing into the typed arrays.
#pragma once
#include <napi.h>

#include <cstdint>

#include "core/kv_layout.h"

namespace gpt::napi {

// Throws a TypeError for a field that is not an Int32Array, a RangeError naming the row or the
// entry for one entry per row missing, a position its table does not cover, a block outside
// [0, blocks), or two rows writing the same slot (their keys would race).
StepLayout layout_args(Napi::Env env, const Napi::Object& obj, int64_t rows, int64_t blocks);

}  // namespace gpt::napi
