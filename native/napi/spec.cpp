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

namespace {

std::vector<int64_t> shape_field(const Napi::Object& obj, const char* key, const std::string& what) {
  Napi::Array shape = array_field(obj, key);
  std::vector<int64_t> out;
  for (uint32_t d = 0; d < shape.Length(); ++d) {
    Napi::Value dv = shape.Get(d);
    if (!dv.IsNumber()) throw Napi::TypeError::New(obj.Env(), what + ": " + key + " must hold numbers");
    out.push_back(int64_t(dv.As<Napi::Number>().DoubleValue()));
  }
  return out;
}

bool bool_field(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(obj.Env(), std::string("expected a boolean in field ") + key);
  return v.As<Napi::Boolean>().Value();
}

GraphKind graph_field(const Napi::Object& obj) {
  const std::string name = string_field(obj, "graph");
  if (name == "gpt2") return GraphKind::kGpt2;
  if (name == "opt") return GraphKind::kOpt;
  if (name == "bloom") return GraphKind::kBloom;
  if (name == "rotary") return GraphKind::kRotary;
  throw Napi::TypeError::New(obj.Env(), "unknown graph " + name);
}

TensorSpec tensor_spec(const Napi::Object& t) {
  TensorSpec ts;
  ts.name = string_field(t, "name");
  ts.dtype = dtype_field(t, "dtype");
  ts.shape = shape_field(t, "shape", "tensor " + ts.name);
  Napi::Array sources = array_field(t, "sources");
  for (uint32_t i = 0; i < sources.Length(); ++i) {
    Napi::Value sv = sources.Get(i);
    if (!sv.IsObject()) throw Napi::TypeError::New(t.Env(), "tensor " + ts.name + ": sources must hold objects");
    Napi::Object s = sv.As<Napi::Object>();
    TensorSource src;
    src.file = size_t(int_field(s, "file", 0));
    src.offset = uint64_t(int_field(s, "offset", 0));
    src.byte_length = uint64_t(int_field(s, "byteLength", 0));
    src.dtype = dtype_field(s, "dtype");
    src.shape = shape_field(s, "shape", "tensor " + ts.name);
    ts.sources.push_back(std::move(src));
  }
  if (!t.Get("rowOrder").IsUndefined()) ts.row_order = shape_field(t, "rowOrder", "tensor " + ts.name);
  if (!t.Get("transpose").IsUndefined()) ts.transpose = bool_field(t, "transpose");
  return ts;
}

}  // namespace

ModelSpec read_model_spec(const Napi::Object& spec) {
  ModelSpec out;
  ModelConfig& c = out.config;
  c.graph = graph_field(spec);
  c.n_layer = int_field(spec, "nLayer", 1);
  c.n_head = int_field(spec, "nHead", 1);
  c.n_embd = int_field(spec, "nEmbd", 1);
  c.n_inner = int_field(spec, "nInner", 1);
  c.n_ctx = int_field(spec, "nCtx", 1);
  c.vocab_size = int_field(spec, "vocabSize", 1);
  c.n_kv_head = int_field(spec, "nKvHead", 1);
  c.head_dim = int_field(spec, "headDim", 1);
  c.layer_norm_epsilon = float(number_field(spec, "layerNormEpsilon"));
  if (!parse_epilogue(string_field(spec, "activation"), &c.activation) || c.activation == Epilogue::kStore ||
      c.activation == Epilogue::kResidual)
    throw Napi::TypeError::New(spec.Env(), "activation must be gelu-tanh, gelu-erf, relu or swiglu");
  Napi::Array attention = array_field(spec, "attention");
  for (uint32_t i = 0; i < attention.Length(); ++i) {
    Napi::Value av = attention.Get(i);
    if (!av.IsObject()) throw Napi::TypeError::New(spec.Env(), "attention must hold objects");
    Napi::Object a = av.As<Napi::Object>();
    c.attention.push_back(AttentionSpec{float(number_field(a, "scale")), int_field(a, "window", 0), bool_field(a, "alibi"),
                                        int_field(a, "rotaryDims", 0), bool_field(a, "rotaryInterleaved")});
  }
  Napi::Array inv_freq = array_field(spec, "ropeInvFreq");
  for (uint32_t i = 0; i < inv_freq.Length(); ++i) {
    Napi::Value f = inv_freq.Get(i);
    if (!f.IsNumber()) throw Napi::TypeError::New(spec.Env(), "ropeInvFreq must hold numbers");
    c.rope_inv_freq.push_back(float(f.As<Napi::Number>().DoubleValue()));
  }
  c.word_embed_dim = int_field(spec, "wordEmbedDim", 1);
  c.pre_norm = bool_field(spec, "preNorm");
  c.residual_from_norm = bool_field(spec, "residualFromNorm");
  const std::string norm = string_field(spec, "norm");
  if (norm != "layernorm" && norm != "rmsnorm") throw Napi::TypeError::New(spec.Env(), "norm must be layernorm or rmsnorm");
  c.norm = norm == "rmsnorm" ? NormKind::kRmsNorm : NormKind::kLayerNorm;
  c.parallel_residual = bool_field(spec, "parallelResidual");
  c.shared_norm = bool_field(spec, "sharedNorm");
  c.head_bias = bool_field(spec, "headBias");
  c.tied_head = bool_field(spec, "tiedHead");

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
    out.tensors.push_back(tensor_spec(tv.As<Napi::Object>()));
  }

  Napi::Value convert = spec.Get("convertTo");
  if (!convert.IsNull() && !convert.IsUndefined()) out.convert_to = dtype_field(spec, "convertTo");
  Napi::Value quantize = spec.Get("quantize");
  if (!quantize.IsNull() && !quantize.IsUndefined()) {
    if (string_field(spec, "quantize") != "int8") throw Napi::TypeError::New(spec.Env(), "quantize must be \"int8\" or absent");
    out.int8_matrices = true;
  }
  Napi::Value compute = spec.Get("compute");
  if (!compute.IsNull() && !compute.IsUndefined()) {
    if (string_field(spec, "compute") != "bfloat16") throw Napi::TypeError::New(spec.Env(), "compute must be \"bfloat16\" or absent");
    out.bf16_compute = true;
  }
  Napi::Value mmap = spec.Get("mmap");
  if (!mmap.IsUndefined()) out.map_files = bool_field(spec, "mmap");
  Napi::Value seed = spec.Get("randomSeed");
  if (!seed.IsNull() && !seed.IsUndefined()) out.random_seed = uint64_t(int_field(spec, "randomSeed", 0));
  out.threads = int(int_field(spec, "threads", 1));
  Napi::Value device = spec.Get("cudaDevice");
  if (!device.IsNull() && !device.IsUndefined()) out.cuda_device = int(int_field(spec, "cudaDevice", 0));
  out.kv_blocks = int_field(spec, "kvBlocks", 1);
  return out;
}

}  // namespace gpt::napi
