// Which instruction set the fast CPU kernels use, decided once per process.
//
// The library is built for baseline x86-64. Kernels that need AVX-512 carry GPT_AVX512 (a GCC
// target attribute), live in *_avx512.cpp files, and are only called when use_avx512() says the
// machine has every feature they use; everything else runs the generic path, which GCC clones
// per ISA with target_clones. GPT_CPU_ISA=generic in the environment forces the generic path,
// so tests can check it on an AVX-512 machine too.
#pragma once

#define GPT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi2")))

namespace gpt::cpu {

bool use_avx512();

// No AVX-512, but x86-64-v3 (AVX2, FMA, F16C, …: what the generic kernels' v3 clones run on), and
// not forced generic: the one-row matmul has an AVX2 kernel of its own (cpu/matmul_avx2.h).
bool use_avx2();

}  // namespace gpt::cpu
