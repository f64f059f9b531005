// Checked fields of the options objects that the test and bench surfaces (ops, cudaOps, bench,
// cudaBench) take: each throws a TypeError or RangeError that names the field and the value.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace gpt::napi {

// A number as a message shows it: "2.5", "1e+20".
std::string show_number(double v);

int64_t positive_field(Napi::Env env, const Napi::Object& obj, const char* key);
int64_t non_negative_field(Napi::Env env, const Napi::Object& obj, const char* key);
bool boolean_field(Napi::Env env, const Napi::Object& obj, const char* key);
// "F32", "F16" or "BF16".
DType dtype_name_field(Napi::Env env, const Napi::Object& obj, const char* key);
// `compute`: false when absent or "float32", true for "bfloat16"; a TypeError names another value.
bool bf16_compute_field(Napi::Env env, const Napi::Object& obj);
// Throws an Error naming this process's CPU level unless it multiplies on AMX tiles (compute
// "bfloat16"'s weights live in them, cpu/tiles.h).
void require_amx(Napi::Env env);

}  // namespace gpt::napi
