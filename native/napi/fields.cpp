#include "napi/fields.h"

#include <cmath>
#include <cstdio>

#include "cpu/isa.h"
#include "napi/spec.h"

namespace gpt::napi {

std::string show_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}

int64_t positive_field(Napi::Env env, const Napi::Object& obj, const char* key) {
  const double v = number_field(obj, key);
  if (!(v >= 1) || v != std::floor(v) || v > 9.0e15)
    throw Napi::RangeError::New(env, std::string(key) + " must be a positive integer, got " + show_number(v));
  return int64_t(v);
}

int64_t non_negative_field(Napi::Env env, const Napi::Object& obj, const char* key) {
  const double v = number_field(obj, key);
  if (!(v >= 0) || v != std::floor(v) || v > 9.0e15)
    throw Napi::RangeError::New(env, std::string(key) + " must be a non-negative integer, got " + show_number(v));
  return int64_t(v);
}

bool boolean_field(Napi::Env env, const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(env, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

DType dtype_name_field(Napi::Env env, const Napi::Object& obj, const char* key) {
  const std::string name = string_field(obj, key);
  DType t;
  if (!parse_dtype(name, &t))
    throw Napi::TypeError::New(env, std::string(key) + " must be F32, F16 or BF16, got " + name);
  return t;
}

bool bf16_compute_field(Napi::Env env, const Napi::Object& obj) {
  if (obj.Get("compute").IsUndefined()) return false;
  const std::string compute = string_field(obj, "compute");
  if (compute != "float32" && compute != "bfloat16")
    throw Napi::TypeError::New(env, "compute must be float32 or bfloat16, not " + compute);
  return compute == "bfloat16";
}

void require_amx(Napi::Env env) {
  if (!cpu::use_amx())
    throw Napi::Error::New(env, std::string("compute bfloat16 needs AMX tiles, and this process's CPU level is ") +
                                    cpu::isa_name(cpu::cpu_isa()));
}

}  // namespace gpt::napi
