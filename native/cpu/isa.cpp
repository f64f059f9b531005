#include "cpu/isa.h"

#include <cstdlib>
#include <cstring>

namespace gpt::cpu {

namespace {

bool forced_generic() {
  const char* force = std::getenv("GPT_CPU_ISA");
  return force && std::strcmp(force, "generic") == 0;
}

bool detect_avx512() {
  if (forced_generic()) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
         __builtin_cpu_supports("bmi2");
}

}  // namespace

bool use_avx512() {
  static const bool yes = detect_avx512();
  return yes;
}

bool use_avx2() {
  static const bool yes = !forced_generic() && !use_avx512() && __builtin_cpu_supports("x86-64-v3");
  return yes;
}

}  // namespace gpt::cpu
