#include "napi/sampling_args.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <vector>

#include "napi/spec.h"

namespace gpt::napi {

namespace {

// A typed array field of `obj`, or absent (undefined / null).
template <typename Array>
std::optional<Array> optional_array(const Napi::Object& obj, const char* key, napi_typedarray_type type,
                                    const std::string& where, const char* type_name) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(obj.Env(), where + key + " must be " + type_name);
  return v.As<Array>();
}

double optional_number(const Napi::Object& obj, const char* key, double fallback, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
    throw Napi::TypeError::New(obj.Env(), where + key + " must be a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

SampleRequest checked_basics(Napi::Env env, double temperature, double top_k, double top_p, double u,
                               const std::string& call) {
  for (const double v : {temperature, top_k, top_p, u})
    if (!std::isfinite(v)) throw Napi::RangeError::New(env, call + ": temperature, topK, topP and u must be finite numbers");
  // The ranges lib/options.ts enforces; anything else here is a caller's bug, named plainly.
  const auto fail = [&](const std::string& what, double v, const char* limit) {
    std::ostringstream text;
    text << call << ": " << what << " " << v << " " << limit;
    return Napi::RangeError::New(env, text.str());
  };
  if (temperature < 0) throw fail("temperature", temperature, "is negative");
  if (top_k < 0 || top_k != std::floor(top_k)) throw fail("topK", top_k, "is not a non-negative integer");
  if (!(top_p >= 0 && top_p <= 1)) throw fail("topP", top_p, "is outside [0, 1]");
  if (!(u >= 0 && u < 1)) throw fail("u", u, "is outside [0, 1)");
  SampleRequest s;
  s.params.temperature = float(temperature);
  s.params.top_k = int64_t(top_k);
  s.params.top_p = float(top_p);
  s.u = u;
  return s;
}

}  // namespace

SampleRequest sampling_args(Napi::Env env, const Napi::Object& p, const std::string& where) {
  SampleRequest s = checked_basics(env, number_field(p, "temperature"), number_field(p, "topK"), number_field(p, "topP"),
                                   number_field(p, "u"), where);
  const std::string at = where + ".";
  const double min_p = optional_number(p, "minP", 0.0, at);
  if (!(min_p >= 0 && min_p <= 1)) throw Napi::RangeError::New(env, at + "minP " + std::to_string(min_p) + " is outside [0, 1]");
  s.params.min_p = float(min_p);
  const double rp = optional_number(p, "repetitionPenalty", 1.0, at);
  if (!(rp > 0)) throw Napi::RangeError::New(env, at + "repetitionPenalty " + std::to_string(rp) + " is not positive");
  s.repetition_penalty = float(rp);
  const double top = optional_number(p, "topLogprobs", 0.0, at);
  if (!(top >= 0 && top <= kMaxTopLogprobs && top == std::floor(top)))
    throw Napi::RangeError::New(env, at + "topLogprobs must be an integer in [0, " + std::to_string(kMaxTopLogprobs) + "]");
  s.top_logprobs = int32_t(top);
  const double limit = optional_number(p, "vocabLimit", 0.0, at);
  if (!(limit >= 0 && limit == std::floor(limit) && limit <= 0x7fffffff))
    throw Napi::RangeError::New(env, at + "vocabLimit must be a non-negative integer");
  s.vocab_limit = int64_t(limit);
  Napi::Value adjust = p.Get("adjust");
  if (!adjust.IsUndefined() && !adjust.IsNull()) {
    if (!adjust.IsObject()) throw Napi::TypeError::New(env, at + "adjust must be an object or null");
    const Napi::Object a = adjust.As<Napi::Object>();
    const std::string in = at + "adjust.";
    const auto ids = optional_array<Napi::Int32Array>(a, "ids", napi_int32_array, in, "an Int32Array");
    const auto repeated = optional_array<Napi::Uint8Array>(a, "repeated", napi_uint8_array, in, "a Uint8Array");
    const auto bias = optional_array<Napi::Float32Array>(a, "bias", napi_float32_array, in, "a Float32Array");
    const auto penalty = optional_array<Napi::Float32Array>(a, "penalty", napi_float32_array, in, "a Float32Array");
    const size_t n = ids ? ids->ElementLength() : 0;
    if (!ids || !repeated || !bias || !penalty || repeated->ElementLength() != n || bias->ElementLength() != n ||
        penalty->ElementLength() != n)
      throw Napi::TypeError::New(env, in + "ids, repeated, bias and penalty must be arrays of one length");
    s.adjustments.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const float b = (*bias)[i], pen = (*penalty)[i];
      // −Infinity bans a token; NaN or +Infinity would make the row unusable.
      if (std::isnan(b) || b == INFINITY)
        throw Napi::RangeError::New(env, in + "bias[" + std::to_string(i) + "] must be finite or -Infinity");
      if (!std::isfinite(pen)) throw Napi::RangeError::New(env, in + "penalty[" + std::to_string(i) + "] is not finite");
      s.adjustments.push_back(LogitAdjustment{(*ids)[i], (*repeated)[i] != 0, b, pen});
    }
    // The device adjusts every id at once, so an id named twice would race there.
    std::vector<int32_t> sorted(ids->Data(), ids->Data() + ids->ElementLength());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end()) throw Napi::RangeError::New(env, in + "ids names id " + std::to_string(*twice) + " twice");
  }
  return s;
}

Napi::Object sampled_object(Napi::Env env, const Sampled& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("token", Napi::Number::New(env, s.token));
  out.Set("logprob", Napi::Number::New(env, s.logprob));
  Napi::Array top = Napi::Array::New(env, size_t(s.top_count));
  for (int i = 0; i < s.top_count; ++i) {
    Napi::Object alt = Napi::Object::New(env);
    alt.Set("token", Napi::Number::New(env, s.top_ids[size_t(i)]));
    alt.Set("logprob", Napi::Number::New(env, s.top_logprobs[size_t(i)]));
    top.Set(uint32_t(i), alt);
  }
  out.Set("top", top);
  return out;
}

}  // namespace gpt::napi
