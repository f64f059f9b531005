#include "napi/layout_args.h"

#include <set>
#include <string>
#include <utility>

namespace gpt::napi {

namespace {

Napi::Int32Array int32_field(Napi::Env env, const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, std::string(key) + " must be an Int32Array");
  return v.As<Napi::Int32Array>();
}

}  // namespace

StepLayout layout_args(Napi::Env env, const Napi::Object& obj, int64_t rows, int64_t blocks) {
  Napi::Int32Array positions = int32_field(env, obj, "positions"), table_starts = int32_field(env, obj, "tableStarts"),
                   tables = int32_field(env, obj, "tables");
  if (int64_t(positions.ElementLength()) != rows || int64_t(table_starts.ElementLength()) != rows)
    throw Napi::RangeError::New(env, "positions and tableStarts must hold one entry per row");
  const int64_t entries = int64_t(tables.ElementLength());
  std::set<std::pair<int32_t, int64_t>> written;  // (block, slot) of each row's own key and value
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t first = table_starts[size_t(r)], pos = positions[size_t(r)];
    const int64_t last = first + pos / kKvBlockSize;
    if (pos < 0 || first < 0 || last >= entries)
      throw Napi::RangeError::New(env, "row " + std::to_string(r) + ": position " + std::to_string(pos) +
                                           " is not covered by its block table");
    for (int64_t j = first; j <= last; ++j)
      if (tables[size_t(j)] < 0 || tables[size_t(j)] >= blocks)
        throw Napi::RangeError::New(env, "tables[" + std::to_string(j) + "] = " + std::to_string(tables[size_t(j)]) +
                                             " is outside the pool of " + std::to_string(blocks) + " blocks");
    if (!written.emplace(tables[size_t(last)], pos % kKvBlockSize).second)
      throw Napi::RangeError::New(env, "row " + std::to_string(r) + " writes the slot of block " +
                                           std::to_string(tables[size_t(last)]) + " that another row writes");
  }
  return StepLayout{rows, nullptr, positions.Data(), table_starts.Data(), tables.Data(), entries};
}

}  // namespace gpt::napi
