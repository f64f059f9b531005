#include "napi/cuda_ops_wrap.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "napi/spec.h"

#if GPT_CUDA_ENABLED
#include "cuda/device.h"
#include "cuda/host_ops.h"
#include "napi/cuda_call.h"
#include "napi/layout_args.h"
#include "napi/sampling_args.h"
#endif

namespace gpt::napi {

namespace {

#if GPT_CUDA_ENABLED

// Argument helpers: typed arrays of exact types and lengths, or a TypeError / RangeError naming the field.
template <typename Array>
Array array_field(Napi::Env env, const Napi::Object& obj, const char* key, napi_typedarray_type type,
                  const char* type_name, size_t length) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, std::string(key) + " must be a " + type_name);
  Array arr = v.As<Array>();
  if (arr.ElementLength() != length)
    throw Napi::RangeError::New(env, std::string(key) + " must hold " + std::to_string(length) + " elements");
  return arr;
}

float* f32(Napi::Env env, const Napi::Object& obj, const char* key, size_t length) {
  return array_field<Napi::Float32Array>(env, obj, key, napi_float32_array, "Float32Array", length).Data();
}

int64_t int_field(Napi::Env env, const Napi::Object& obj, const char* key) {
  const double d = number_field(obj, key);
  if (d != double(int64_t(d)) || d < 0) throw Napi::RangeError::New(env, std::string(key) + " must be an integer ≥ 0");
  return int64_t(d);
}

// A weight given as the typed array of its storage bits: Float32Array for F32, Uint16Array for F16 / BF16.
WeightView weight_field(Napi::Env env, const Napi::Object& obj, const char* key, const char* dtype_key,
                        std::vector<int64_t> shape) {
  WeightView w;
  const std::string dtype = string_field(obj, dtype_key);
  if (!parse_dtype(dtype, &w.dtype)) throw Napi::TypeError::New(env, "unknown dtype " + dtype);
  w.shape = std::move(shape);
  const size_t n = size_t(w.numel());
  if (w.dtype == DType::F32)
    w.data = array_field<Napi::Float32Array>(env, obj, key, napi_float32_array, "Float32Array for F32", n).Data();
  else
    w.data = array_field<Napi::Uint16Array>(env, obj, key, napi_uint16_array, "Uint16Array for F16 / BF16", n).Data();
  return w;
}

cuda::MatmulPath matmul_path(Napi::Env env, const std::string& name) {
  if (name == "auto") return cuda::MatmulPath::kAuto;
  if (name == "fp32") return cuda::MatmulPath::kFp32;
  if (name == "tensorcore") return cuda::MatmulPath::kTensorCore;
  if (name == "decode") return cuda::MatmulPath::kDecode;
  throw Napi::TypeError::New(env, "unknown matmul path " + name);
}

Epilogue epilogue_field(Napi::Env env, const Napi::Object& obj) {
  const std::string name = string_field(obj, "epilogue");
  Epilogue ep;
  if (!parse_epilogue(name, &ep)) throw Napi::TypeError::New(env, "unknown epilogue " + name);
  return ep;
}

// Runs `body` with the options object, on a machine with a CUDA device.
template <typename Body>
Napi::Value with_device(const Napi::CallbackInfo& info, Body body) {
  return with_cuda_device(info, "cudaOps", body);
}

// matmul({path, input, rows, weight, dtype, k, n, bias, epilogue, out}): writes `out`, rows × n
// (rows × n/2 for "swiglu", whose n must be even).
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    const int64_t rows = int_field(env, a, "rows"), K = int_field(env, a, "k"), N = int_field(env, a, "n");
    const Epilogue epilogue = epilogue_field(env, a);
    if (epilogue == Epilogue::kSwiglu && N % 2 != 0)
      throw Napi::RangeError::New(env, "swiglu needs an even n (gate and up columns interleaved)");
    const WeightView w = weight_field(env, a, "weight", "dtype", {K, N});
    cuda::host_matmul(f32(env, a, "input", size_t(rows * K)), rows, w, f32(env, a, "bias", size_t(N)), epilogue,
                      matmul_path(env, string_field(a, "path")),
                      f32(env, a, "out", size_t(rows * epilogue_width(epilogue, N))));
    return env.Undefined();
  });
}

// lmHead({path, input, rows, weight, dtype, vocab, c, out, bias?}): writes `out`; `bias` [vocab]
// (GPT-J's head), when given and not null, is added to every row.
Napi::Value LmHead(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    const int64_t rows = int_field(env, a, "rows"), V = int_field(env, a, "vocab"), C = int_field(env, a, "c");
    const WeightView w = weight_field(env, a, "weight", "dtype", {V, C});
    const Napi::Value bv = a.Get("bias");
    const float* bias = bv.IsUndefined() || bv.IsNull() ? nullptr : f32(env, a, "bias", size_t(V));
    cuda::host_lm_head(f32(env, a, "input", size_t(rows * C)), rows, w, bias,
                       matmul_path(env, string_field(a, "path")), f32(env, a, "out", size_t(rows * V)));
    return env.Undefined();
  });
}

// layernorm({x, add, rows, c, gamma, beta, eps, out}): writes `out` (and `x` when `add` is given).
Napi::Value Layernorm(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    const int64_t rows = int_field(env, a, "rows"), C = int_field(env, a, "c");
    const size_t n = size_t(rows * C);
    const float* add = a.Get("add").IsNull() ? nullptr : f32(env, a, "add", n);
    cuda::host_layernorm(f32(env, a, "x", n), add, rows, C, f32(env, a, "gamma", size_t(C)),
                         f32(env, a, "beta", size_t(C)), float(number_field(a, "eps")), f32(env, a, "out", n));
    return env.Undefined();
  });
}

// rmsnorm({x, add, rows, c, gamma, eps, out}): writes `out` (and `x` when `add` is given).
Napi::Value Rmsnorm(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    const int64_t rows = int_field(env, a, "rows"), C = int_field(env, a, "c");
    const size_t n = size_t(rows * C);
    const float* add = a.Get("add").IsNull() ? nullptr : f32(env, a, "add", n);
    cuda::host_rmsnorm(f32(env, a, "x", n), add, rows, C, f32(env, a, "gamma", size_t(C)), float(number_field(a, "eps")),
                       f32(env, a, "out", n));
    return env.Undefined();
  });
}

// rotary({qkv, rows, positions, qHeads, kvHeads, headDim, dims, interleaved, invFreq}): in place.
Napi::Value Rotary(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    cuda::RotaryArgs r{int_field(env, a, "qHeads"), int_field(env, a, "kvHeads"), int_field(env, a, "headDim"),
                       int_field(env, a, "dims"), a.Get("interleaved").ToBoolean().Value(), nullptr};
    const int64_t rows = int_field(env, a, "rows");
    r.inv_freq = f32(env, a, "invFreq", size_t(r.dims / 2));
    Napi::Value pv = a.Get("positions");
    if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        pv.As<Napi::Int32Array>().ElementLength() != size_t(rows))
      throw Napi::TypeError::New(env, "positions must be an Int32Array of rows entries");
    cuda::host_rotary(r, f32(env, a, "qkv", size_t(rows * (r.q_heads + 2 * r.kv_heads) * r.head_dim)), rows,
                      pv.As<Napi::Int32Array>().Data());
    return env.Undefined();
  });
}

// embed({tokens, start, wte, wteDtype, wpe, wpeDtype, vocab, positions, c, out}): writes `out`.
Napi::Value Embed(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    const int64_t V = int_field(env, a, "vocab"), P = int_field(env, a, "positions"), C = int_field(env, a, "c");
    const int64_t start = int_field(env, a, "start");
    Napi::Value tv = a.Get("tokens");
    if (!tv.IsTypedArray() || tv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "tokens must be an Int32Array");
    Napi::Int32Array tokens = tv.As<Napi::Int32Array>();
    const int64_t rows = int64_t(tokens.ElementLength());
    for (int64_t t = 0; t < rows; ++t)
      if (tokens[size_t(t)] < 0 || tokens[size_t(t)] >= V) throw Napi::RangeError::New(env, "token id out of range");
    if (start + rows > P) throw Napi::RangeError::New(env, "positions exceed wpe");
    const WeightView wte = weight_field(env, a, "wte", "wteDtype", {V, C});
    const WeightView wpe = weight_field(env, a, "wpe", "wpeDtype", {P, C});
    std::vector<int32_t> positions(static_cast<size_t>(rows));
    for (int64_t t = 0; t < rows; ++t) positions[size_t(t)] = int32_t(start + t);
    cuda::host_embed(tokens.Data(), positions.data(), rows, wte, wpe, f32(env, a, "out", size_t(rows * C)));
    return env.Undefined();
  });
}

// attention({qkv, rows, heads, kvHeads?, headDim, positions, tableStarts, tables, blocks, pool, out,
// cacheDtype?, scale?, window?, slopes?}) (the CPU op's variant fields): `heads` query heads over
// `kvHeads` KV heads (default `heads`; a divisor of it), qkv rows × (heads + 2 kvHeads) · headDim;
// writes the rows' keys and values into `pool` (one layer: k[blocks][kvHeads][16][D] then v, fp32
// here, `cacheDtype` on the device) and writes `out` (rows × heads · headDim).
Napi::Value Attention(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) {
    const int64_t heads = int_field(env, a, "heads");
    const int64_t kv_heads = a.Get("kvHeads").IsUndefined() ? heads : int_field(env, a, "kvHeads");
    if (heads < 1 || kv_heads < 1 || heads % kv_heads != 0)
      throw Napi::RangeError::New(env, "attention needs heads ≥ 1 and kvHeads ≥ 1 dividing it");
    const cuda::AttentionShape s{heads, kv_heads, int_field(env, a, "headDim")};
    const int64_t rows = int_field(env, a, "rows"), blocks = int_field(env, a, "blocks"), C = s.q_heads * s.head_dim;
    if (rows < 1 || blocks < 1) throw Napi::RangeError::New(env, "attention needs rows and blocks ≥ 1");
    DType cache_dtype = DType::F32;
    const Napi::Value dv = a.Get("cacheDtype");
    if (!dv.IsUndefined() && (!dv.IsString() || !parse_dtype(dv.As<Napi::String>().Utf8Value(), &cache_dtype)))
      throw Napi::TypeError::New(env, "cacheDtype must be \"F32\", \"F16\" or \"BF16\"");
    const StepLayout layout = layout_args(env, a, rows, blocks);
    AttentionVariant variant{1.0f / std::sqrt(float(s.head_dim)), 0, nullptr};
    if (!a.Get("scale").IsUndefined()) variant.scale = float(number_field(a, "scale"));
    if (!a.Get("window").IsUndefined()) variant.window = int_field(env, a, "window");
    if (!a.Get("slopes").IsUndefined()) variant.slopes = f32(env, a, "slopes", size_t(s.q_heads));
    cuda::host_attention(s, variant, f32(env, a, "qkv", size_t(rows * s.qkv_width())), layout, blocks,
                         f32(env, a, "pool", size_t(2 * blocks * s.kv_heads * kKvBlockSize * s.head_dim)), cache_dtype,
                         f32(env, a, "out", size_t(rows * C)));
    return env.Undefined();
  });
}

// sample({logits, ...NativeSampling}) → NativePick: the device sampler, the CPU's twin.
Napi::Value Sample(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) -> Napi::Value {
    Napi::Value lv = a.Get("logits");
    if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "logits must be a Float32Array");
    Napi::Float32Array logits = lv.As<Napi::Float32Array>();
    const SampleRequest request = sampling_args(env, a, "sample");
    return sampled_object(env, cuda::host_sample(logits.Data(), int64_t(logits.ElementLength()), request));
  });
}

// memInfo({device}) → {free, total}: bytes of GPU memory (for the tests that look for leaks).
Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  return with_device(info, [](Napi::Env env, const Napi::Object& a) -> Napi::Value {
    const int64_t device = int_field(env, a, "device");
    if (device >= int64_t(cuda::list_devices().size()))
      throw Napi::RangeError::New(env, "memInfo: CUDA device " + std::to_string(device) + " does not exist");
    const cuda::MemoryInfo m = cuda::memory_info(int(device));
    Napi::Object out = Napi::Object::New(env);
    out.Set("free", Napi::Number::New(env, double(m.free)));
    out.Set("total", Napi::Number::New(env, double(m.total)));
    return out;
  });
}

#else

Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "gpt-cuda: cudaOps needs the CUDA backend, and this binary was built without it "
                         "(GPT_CUDA=OFF, or no nvcc >= 12 at build time)");
}
#define Matmul Unavailable
#define LmHead Unavailable
#define Layernorm Unavailable
#define Rmsnorm Unavailable
#define Rotary Unavailable
#define Embed Unavailable
#define Attention Unavailable
#define Sample Unavailable
#define MemInfo Unavailable

#endif

}  // namespace

Napi::Object CreateCudaOps(Napi::Env env) {
  Napi::Object ops = Napi::Object::New(env);
  ops.Set("matmul", Napi::Function::New<Matmul>(env, "matmul"));
  ops.Set("lmHead", Napi::Function::New<LmHead>(env, "lmHead"));
  ops.Set("layernorm", Napi::Function::New<Layernorm>(env, "layernorm"));
  ops.Set("rmsnorm", Napi::Function::New<Rmsnorm>(env, "rmsnorm"));
  ops.Set("rotary", Napi::Function::New<Rotary>(env, "rotary"));
  ops.Set("embed", Napi::Function::New<Embed>(env, "embed"));
  ops.Set("attention", Napi::Function::New<Attention>(env, "attention"));
  ops.Set("sample", Napi::Function::New<Sample>(env, "sample"));
  ops.Set("memInfo", Napi::Function::New<MemInfo>(env, "memInfo"));
  return ops;
}

}  // namespace gpt::napi
