// The sampling arguments the bindings take (NativeSampling in bindings.d.ts): checked, as the
// SampleRequest of core/sampler.h; and a pick as the object they return.
#pragma once
#include <napi.h>

#include <string>

#include "core/sampler.h"

namespace gpt::napi {

// A NativeSampling object: temperature, topK, topP and u, then the optional minP,
// repetitionPenalty, adjust {ids, repeated, bias, penalty} (ids unique) and topLogprobs, each checked (a
// TypeError or RangeError naming `where` and the value).
SampleRequest sampling_args(Napi::Env env, const Napi::Object& sampling, const std::string& where);

// {token, logprob, top: [{token, logprob}]} (NativePick).
Napi::Object sampled_object(Napi::Env env, const Sampled& s);

}  // namespace gpt::napi
