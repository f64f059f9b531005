#include "cpu/isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace gpt::cpu {

namespace {

// Linux keeps the AMX tile data out of a process's state until it asks for it; the first tile
// instruction without the grant is a SIGILL.
constexpr long kArchReqXcompPerm = 0x1023;
constexpr long kXfeatureXtiledata = 18;

bool has_amx_bf16() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool tile = d & (1u << 24), bf16 = d & (1u << 22);
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  const bool avx512_bf16 = a & (1u << 5);
  return tile && bf16 && avx512_bf16 && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// The best level up to `cap`; AMX's grant is asked for only when it may be used.
Isa detect(Isa cap) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                      __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
  const Isa best = avx512 ? (cap >= Isa::kAmx && has_amx_bf16() ? Isa::kAmx : Isa::kAvx512)
                         : __builtin_cpu_supports("x86-64-v3") ? Isa::kAvx2 : Isa::kGeneric;
  return best < cap ? best : cap;
}

// GPT_CPU_ISA's cap; an unknown value caps nothing here (the library refuses it by name before
// loading the addon: lib/native.ts).
Isa cap() {
  const char* force = std::getenv("GPT_CPU_ISA");
  if (!force) return Isa::kAmx;
  if (std::strcmp(force, "generic") == 0) return Isa::kGeneric;
  if (std::strcmp(force, "avx2") == 0) return Isa::kAvx2;
  if (std::strcmp(force, "avx512") == 0) return Isa::kAvx512;
  return Isa::kAmx;
}

}  // namespace

Isa cpu_isa() {
  static const Isa isa = detect(cap());
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kGeneric: return "generic";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAmx: return "avx512+amx";
  }
  return "generic";
}

}  // namespace gpt::cpu
