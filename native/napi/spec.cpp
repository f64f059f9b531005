#include "napi/spec.h"

#include <cmath>
#include <thread>

namespace gpt::napi {

double number_field(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string("expected a number in field ") + key);
  return v.As<Napi::Number>().DoubleValue();
}

std::string string_field(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(obj.Env(), std::string("expected a string in field ") + key);
  return v.As<Napi::String>().Utf8Value();
}

namespace {

int64_t int_field(const Napi::Object& obj, const char* key, int64_t min) {
  double d = number_field(obj, key);
  if (!std::isfinite(d) || d != std::floor(d) || d < double(min) || d > 9007199254740991.0)
    throw Napi::RangeError::New(obj.Env(), std::string("field ") + key + " must be an integer ≥ " +
                                               std::to_string(min));
  return int64_t(d);
}

DType dtype_field(const Napi::Object& obj, const char* key) {
  DType t;
  std::string name = string_field(obj, key);
  if (!parse_dtype(name, &t)) throw Napi::TypeError::New(obj.Env(), "unknown dtype " + name);
  return t;
}

Napi::Array array_field(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsArray()) throw Napi::TypeError::New(obj.Env(), std::string("expected an array in field ") + key);
  return v.As<Napi::Array>();
}

}  // namespace

ModelSpec read_model_spec(const Napi::Object& spec) {
  ModelSpec out;
  Gpt2Config& c = out.config;
  c.n_layer = int_field(spec, "nLayer", 1);
  c.n_head = int_field(spec, "nHead", 1);
  c.n_embd = int_field(spec, "nEmbd", 1);
  c.n_inner = int_field(spec, "nInner", 1);
  c.n_ctx = int_field(spec, "nCtx", 1);
  c.vocab_size = int_field(spec, "vocabSize", 1);
  c.layer_norm_epsilon = float(number_field(spec, "layerNormEpsilon"));

  Napi::Array files = array_field(spec, "files");
  for (uint32_t i = 0; i < files.Length(); ++i) {
    Napi::Value f = files.Get(i);
    if (!f.IsString()) throw Napi::TypeError::New(spec.Env(), "files must hold strings");
    out.files.push_back(f.As<Napi::String>().Utf8Value());
  }

  Napi::Array tensors = array_field(spec, "tensors");
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    Napi::Value tv = tensors.Get(i);
    if (!tv.IsObject()) throw Napi::TypeError::New(spec.Env(), "tensors must hold objects");
    Napi::Object t = tv.As<Napi::Object>();
    TensorSpec ts;
    ts.name = string_field(t, "name");
    ts.dtype = dtype_field(t, "dtype");
    Napi::Array shape = array_field(t, "shape");
    for (uint32_t d = 0; d < shape.Length(); ++d) {
      Napi::Value dv = shape.Get(d);
      if (!dv.IsNumber()) throw Napi::TypeError::New(spec.Env(), "tensor " + ts.name + ": shape must hold numbers");
      ts.shape.push_back(int64_t(dv.As<Napi::Number>().DoubleValue()));
    }
    ts.file = size_t(int_field(t, "file", 0));
    ts.offset = uint64_t(int_field(t, "offset", 0));
    ts.byte_length = uint64_t(int_field(t, "byteLength", 0));
    out.tensors.push_back(std::move(ts));
  }

  Napi::Value convert = spec.Get("convertTo");
  if (!convert.IsNull() && !convert.IsUndefined()) out.convert_to = dtype_field(spec, "convertTo");
  Napi::Value seed = spec.Get("randomSeed");
  if (!seed.IsNull() && !seed.IsUndefined()) out.random_seed = uint64_t(int_field(spec, "randomSeed", 0));
  out.threads = int(int_field(spec, "threads", 1));
  Napi::Value device = spec.Get("cudaDevice");
  if (!device.IsNull() && !device.IsUndefined()) out.cuda_device = int(int_field(spec, "cudaDevice", 0));
  out.kv_blocks = int_field(spec, "kvBlocks", 1);
  return out;
}

}  // namespace gpt::napi
