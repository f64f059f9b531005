// Which instruction set the fast CPU kernels use, decided once per process.
//
// The library is built for baseline x86-64. Kernels that need AVX-512 carry GPT_AVX512 (a GCC
// target attribute) and live in *_avx512.cpp files, the AMX tile kernels GPT_AMX in *_amx.cpp;
// each is only called when the level below says the machine (and, for AMX, the OS) has every
// feature it uses. Everything else runs the generic path, which GCC clones per ISA with
// target_clones.
//
// GPT_CPU_ISA=generic | avx2 | avx512 | amx in the environment caps the level (a level the CPU
// lacks is never used), so tests check every lower level on the best machine too.
#pragma once

#define GPT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi2")))
#define GPT_AMX \
  __attribute__((target("amx-tile,amx-bf16,avx512bf16,avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi2")))

namespace gpt::cpu {

enum class Isa { kGeneric, kAvx2, kAvx512, kAmx };

// The level in use: the best the machine has, capped by GPT_CPU_ISA.
Isa cpu_isa();
// "generic", "avx2", "avx512" or "avx512+amx" (Gpt.buildInfo().cpuIsa).
const char* isa_name(Isa isa);

inline bool use_avx512() { return cpu_isa() >= Isa::kAvx512; }
// AVX2 without AVX-512 (x86-64-v3: AVX2, FMA, F16C, …): the one-row matmul has an AVX2 kernel of
// its own (cpu/matmul_avx2.h).
inline bool use_avx2() { return cpu_isa() == Isa::kAvx2; }
// AMX-BF16 tiles (and AVX512-BF16 for rounding activations), the OS having granted this process
// the tile state: compute "bfloat16" runs its matmuls there (cpu/matmul_amx.h).
inline bool use_amx() { return cpu_isa() >= Isa::kAmx; }

}  // namespace gpt::cpu
