#include "napi/ops_wrap.h"

#include <algorithm>
#include <cmath>

#include <string>

#include "core/sampler.h"
#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/activation.h"
#include "cpu/matmul.h"
#include "cpu/norm.h"
#include "cpu/panels.h"
#include "cpu/quantize.h"
#include "cpu/rotary.h"
#include "cpu/tiles.h"
#include "napi/fields.h"
#include "napi/layout_args.h"
#include "napi/sampling_args.h"
#include "napi/spec.h"

namespace gpt::napi {

namespace {

// A weight given as a typed array of its storage bits: Float32Array for F32, Uint16Array for F16 /
// BF16, Int8Array for I8 (its values; the scales come separately).
WeightView weight_arg(Napi::Env env, const Napi::Value& data, const std::string& dtype_name,
                      std::vector<int64_t> shape) {
  WeightView w;
  if (dtype_name == "I8") w.dtype = DType::I8;
  else if (!parse_dtype(dtype_name, &w.dtype)) throw Napi::TypeError::New(env, "unknown dtype " + dtype_name);
  if (!data.IsTypedArray()) throw Napi::TypeError::New(env, "weight must be a typed array");
  Napi::TypedArray arr = data.As<Napi::TypedArray>();
  napi_typedarray_type want = w.dtype == DType::F32 ? napi_float32_array
                              : w.dtype == DType::I8 ? napi_int8_array
                                                     : napi_uint16_array;
  if (arr.TypedArrayType() != want) throw Napi::TypeError::New(env, "weight array type does not match " + dtype_name);
  w.shape = std::move(shape);
  if (int64_t(arr.ElementLength()) != w.numel()) throw Napi::RangeError::New(env, "weight length disagrees with its shape");
  w.data = static_cast<const unsigned char*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  return w;
}

Napi::Float32Array f32_arg(Napi::Env env, const Napi::Object& obj, const char* key, size_t length) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, std::string(key) + " must be a Float32Array");
  Napi::Float32Array arr = v.As<Napi::Float32Array>();
  if (arr.ElementLength() != length)
    throw Napi::RangeError::New(env, std::string(key) + " must hold " + std::to_string(length) + " floats");
  return arr;
}

Epilogue epilogue_arg(Napi::Env env, const std::string& name) {
  Epilogue ep;
  if (!parse_epilogue(name, &ep)) throw Napi::TypeError::New(env, "unknown epilogue " + name);
  return ep;
}

bool fast_impl(Napi::Env env, const Napi::Object& a) {
  std::string impl = string_field(a, "impl");
  if (impl != "fast" && impl != "reference") throw Napi::TypeError::New(env, "impl must be fast or reference");
  return impl == "fast";
}

// `compute` (napi/fields.h), "bfloat16" also needing a weight that is not I8.
bool compute_bf16(Napi::Env env, const Napi::Object& a, const WeightView& w) {
  if (!bf16_compute_field(env, a)) return false;
  if (w.dtype == DType::I8) throw Napi::TypeError::New(env, "compute bfloat16 takes an F32, F16 or BF16 weight, not I8");
  require_amx(env);
  return true;
}

// matmul({impl, input, rows, weight, dtype, k, n, bias, epilogue, out, threads, compute?}, and
// with dtype I8 `scales`, a Float32Array of n): writes `out`.
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t rows = int64_t(number_field(a, "rows")), K = int64_t(number_field(a, "k")),
                N = int64_t(number_field(a, "n"));
  const std::string dtype = string_field(a, "dtype");
  WeightView w = weight_arg(env, a.Get("weight"), dtype, {K, N});
  if (w.dtype == DType::I8) w.scales = f32_arg(env, a, "scales", size_t(N)).Data();
  WeightView bias;
  bias.dtype = DType::F32;
  bias.shape = {N};
  bias.data = f32_arg(env, a, "bias", size_t(N)).Data();
  const float* in = f32_arg(env, a, "input", size_t(rows * K)).Data();
  const Epilogue ep = epilogue_arg(env, string_field(a, "epilogue"));
  if (ep == Epilogue::kSwiglu && N % 2 != 0) throw Napi::RangeError::New(env, "the swiglu epilogue needs an even n");
  float* out = f32_arg(env, a, "out", size_t(rows * epilogue_width(ep, N))).Data();
  const bool fast = fast_impl(env, a);
  ThreadPool pool(fast ? int(number_field(a, "threads")) : 1);
  // The weight as the CPU backend keeps it: under compute "bfloat16" in AMX tiles, for both impls;
  // else in column panels for the fast path, the reference reading it as given.
  std::vector<unsigned char> packed;
  WeightView kept = w;
  if (compute_bf16(env, a, w)) {
    packed.resize(size_t(tile_elements(K, N)) * 2);
    cpu::pack_tiles(w, reinterpret_cast<uint16_t*>(packed.data()));
    kept.dtype = DType::BF16;
    kept.tiles = true;
    kept.data = packed.data();
  } else if (fast) {
    packed.resize(size_t(w.numel()) * dtype_size(w.dtype));
    kept.panel = cpu::panel_columns(N, pool.size());
    cpu::pack_panels(w, kept.panel, packed.data());
    kept.data = packed.data();
  }
  if (fast)
    cpu::matmul(pool, in, rows, kept, bias, ep, out);
  else
    cpu::matmul_reference(in, rows, kept, bias, ep, out);
  return env.Undefined();
}

// quantizeInt8({weight, dtype, k, n}): {values: Int8Array [k, n] row-major, scales: Float32Array [n]},
// as the CPU backend quantizes a matmul weight at load (cpu/quantize.h), in one panel.
Napi::Value QuantizeInt8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t K = int64_t(number_field(a, "k")), N = int64_t(number_field(a, "n"));
  const std::string dtype = string_field(a, "dtype");
  if (dtype == "I8") throw Napi::TypeError::New(env, "the weight to quantize must be F32, F16 or BF16");
  WeightView w = weight_arg(env, a.Get("weight"), dtype, {K, N});
  Napi::Float32Array scales = Napi::Float32Array::New(env, size_t(N));
  Napi::Int8Array values = Napi::Int8Array::New(env, size_t(K * N));
  try {
    cpu::int8_column_scales(w, scales.Data());
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  cpu::int8_pack_panels(w, N, scales.Data(), values.Data());
  Napi::Object result = Napi::Object::New(env);
  result.Set("values", values);
  result.Set("scales", scales);
  return result;
}

// lmHead({impl, input, rows, weight, dtype, vocab, c, out, threads}): writes `out`.
Napi::Value LmHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t rows = int64_t(number_field(a, "rows")), V = int64_t(number_field(a, "vocab")),
                C = int64_t(number_field(a, "c"));
  WeightView w = weight_arg(env, a.Get("weight"), string_field(a, "dtype"), {V, C});
  const float* in = f32_arg(env, a, "input", size_t(rows * C)).Data();
  float* out = f32_arg(env, a, "out", size_t(rows * V)).Data();
  if (fast_impl(env, a)) {
    ThreadPool pool(int(number_field(a, "threads")));
    cpu::lm_head(pool, in, rows, w, out);
  } else {
    cpu::lm_head_reference(in, rows, w, out);
  }
  return env.Undefined();
}

// attention({impl, qkv, rows, heads, kvHeads?, headDim, positions, tableStarts, tables, blocks, pool,
// out, threads, scale?, window?, slopes?}): writes each row's key and value into `pool` (one layer:
// k[blocks][kvHeads][16][D] then v[blocks][kvHeads][16][D]) at its position, then writes `out`
// (cpu/attention.h). qkv rows are [q: heads·D | k: kvHeads·D | v: kvHeads·D]; kvHeads defaults to
// heads and must divide it. scale defaults to 1/√D, window to 0 (none); slopes (one per query
// head) add ALiBi.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t rows = int64_t(number_field(a, "rows")), blocks = int64_t(number_field(a, "blocks"));
  const int64_t heads = int64_t(number_field(a, "heads"));
  const int64_t kv_heads = a.Get("kvHeads").IsUndefined() ? heads : int64_t(number_field(a, "kvHeads"));
  cpu::AttentionShape s{heads, kv_heads, int64_t(number_field(a, "headDim"))};
  if (rows < 1 || blocks < 1 || s.q_heads < 1 || s.kv_heads < 1 || s.head_dim < 1 || s.q_heads % s.kv_heads != 0)
    throw Napi::RangeError::New(env, "attention needs rows, blocks, heads, kvHeads and headDim ≥ 1, kvHeads dividing heads");
  const size_t half = size_t(blocks * s.kv_heads * kKvBlockSize * s.head_dim);
  const float* qkv = f32_arg(env, a, "qkv", size_t(rows * s.qkv_width())).Data();
  float* pool = f32_arg(env, a, "pool", 2 * half).Data();
  float* out = f32_arg(env, a, "out", size_t(rows * s.q_heads * s.head_dim)).Data();
  const StepLayout layout = layout_args(env, a, rows, blocks);
  const cpu::PagedLayer kv{pool, pool + half};
  const bool fast = fast_impl(env, a);
  AttentionVariant variant{1.0f / std::sqrt(float(s.head_dim)), 0, nullptr};
  if (!a.Get("scale").IsUndefined()) variant.scale = float(number_field(a, "scale"));
  if (!a.Get("window").IsUndefined()) variant.window = int64_t(number_field(a, "window"));
  if (variant.window < 0) throw Napi::RangeError::New(env, "window must be ≥ 0");
  if (!a.Get("slopes").IsUndefined()) variant.slopes = f32_arg(env, a, "slopes", size_t(s.q_heads)).Data();
  cpu::kv_append(s, qkv, layout, kv);
  if (fast) {
    ThreadPool threads(int(number_field(a, "threads")));
    cpu::attention(threads, s, variant, qkv, layout, kv, out);
  } else {
    cpu::attention_reference(s, variant, qkv, layout, kv, out);
  }
  return env.Undefined();
}

// rmsnorm({x, rows, gamma, eps, out, threads}): out = RMSNorm(x) row by row (cpu/norm.h: one
// implementation, the statistic in double).
Napi::Value Rmsnorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  const int64_t rows = int64_t(number_field(a, "rows"));
  Napi::Value gv = a.Get("gamma");
  if (!gv.IsTypedArray() || gv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "gamma must be a Float32Array");
  Napi::Float32Array gamma = gv.As<Napi::Float32Array>();
  const int64_t C = int64_t(gamma.ElementLength());
  if (rows < 1 || C < 1) throw Napi::RangeError::New(env, "rmsnorm needs rows and a gamma of at least 1");
  WeightView g;
  g.data = gamma.Data();
  g.dtype = DType::F32;
  g.shape = {C};
  ThreadPool pool(int(number_field(a, "threads")));
  cpu::rmsnorm(pool, f32_arg(env, a, "x", size_t(rows * C)).Data(), rows, g, float(number_field(a, "eps")),
               f32_arg(env, a, "out", size_t(rows * C)).Data());
  return env.Undefined();
}

// rotary({qkv, rows, positions, qHeads, kvHeads, headDim, dims, interleaved, invFreq, threads}):
// the rotary embedding of q and k in place (cpu/rotary.h).
Napi::Value Rotary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  cpu::RotaryShape s{int64_t(number_field(a, "qHeads")), int64_t(number_field(a, "kvHeads")),
                     int64_t(number_field(a, "headDim")), int64_t(number_field(a, "dims")),
                     a.Get("interleaved").ToBoolean().Value(), nullptr};
  const int64_t rows = int64_t(number_field(a, "rows"));
  if (rows < 1 || s.q_heads < 1 || s.kv_heads < 1 || s.dims < 2 || s.dims % 2 || s.dims > s.head_dim)
    throw Napi::RangeError::New(env, "rotary needs rows, qHeads, kvHeads ≥ 1 and an even dims ≤ headDim");
  s.inv_freq = f32_arg(env, a, "invFreq", size_t(s.dims / 2)).Data();
  Napi::Value pv = a.Get("positions");
  if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      pv.As<Napi::Int32Array>().ElementLength() != size_t(rows))
    throw Napi::TypeError::New(env, "positions must be an Int32Array of rows entries");
  float* qkv = f32_arg(env, a, "qkv", size_t(rows * (s.q_heads + 2 * s.kv_heads) * s.head_dim)).Data();
  ThreadPool pool(int(number_field(a, "threads")));
  cpu::rotary(pool, s, qkv, rows, pv.As<Napi::Int32Array>().Data());
  return env.Undefined();
}

// alibiSlopes(heads): ALiBi's slope per head (core/backend.h).
Napi::Value AlibiSlopes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "alibiSlopes(heads: number)");
  const int64_t heads = int64_t(info[0].As<Napi::Number>().DoubleValue());
  if (heads < 1 || heads > 65535) throw Napi::RangeError::New(env, "heads must be in [1, 65535]");
  const std::vector<float> slopes = alibi_slopes(heads);
  Napi::Float32Array out = Napi::Float32Array::New(env, slopes.size());
  std::copy(slopes.begin(), slopes.end(), out.Data());
  return out;
}

// activation({impl, epilogue, input, out}): out = the epilogue's activation of input, elementwise
// (swiglu: of each pair, half as many outputs).
Napi::Value Activation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info[0].As<Napi::Object>();
  Napi::Value v = a.Get("input");
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "input must be a Float32Array");
  Napi::Float32Array input = v.As<Napi::Float32Array>();
  const Epilogue ep = epilogue_arg(env, string_field(a, "epilogue"));
  if (ep == Epilogue::kSwiglu && input.ElementLength() % 2 != 0)
    throw Napi::RangeError::New(env, "the swiglu activation needs an even number of inputs");
  float* out = f32_arg(env, a, "out", size_t(epilogue_width(ep, int64_t(input.ElementLength())))).Data();
  if (fast_impl(env, a))
    cpu::activation(ep, input.Data(), int64_t(input.ElementLength()), out);
  else
    cpu::activation_reference(ep, input.Data(), int64_t(input.ElementLength()), out);
  return env.Undefined();
}

// sample({logits, ...NativeSampling}) → NativePick: the CPU sampler (core/sampler.h).
Napi::Value Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "sample(args: object)");
  Napi::Object a = info[0].As<Napi::Object>();
  Napi::Value lv = a.Get("logits");
  if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "logits must be a Float32Array");
  Napi::Float32Array logits = lv.As<Napi::Float32Array>();
  const SampleRequest request = sampling_args(env, a, "sample");
  try {
    return sampled_object(env, sample_token(logits.Data(), int64_t(logits.ElementLength()), request));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace

Napi::Object CreateOps(Napi::Env env) {
  Napi::Object ops = Napi::Object::New(env);
  ops.Set("matmul", Napi::Function::New<Matmul>(env, "matmul"));
  ops.Set("quantizeInt8", Napi::Function::New<QuantizeInt8>(env, "quantizeInt8"));
  ops.Set("lmHead", Napi::Function::New<LmHead>(env, "lmHead"));
  ops.Set("attention", Napi::Function::New<Attention>(env, "attention"));
  ops.Set("activation", Napi::Function::New<Activation>(env, "activation"));
  ops.Set("alibiSlopes", Napi::Function::New<AlibiSlopes>(env, "alibiSlopes"));
  ops.Set("rmsnorm", Napi::Function::New<Rmsnorm>(env, "rmsnorm"));
  ops.Set("rotary", Napi::Function::New<Rotary>(env, "rotary"));
  ops.Set("sample", Napi::Function::New<Sample>(env, "sample"));
  return ops;
}

}  // namespace gpt::napi
