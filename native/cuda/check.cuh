// Error checking for the CUDA backend: every runtime call and every launch goes through
// CUDA_CHECK / CUDA_CHECK_LAUNCH, which turn a failure into a std::runtime_error naming the call,
// the error and the source line; launch constraints are checked on the host with GPT_REQUIRE,
// which throws std::invalid_argument with the message given. Nothing here aborts the process.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace gpt::cuda {

inline void check(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return;
  throw std::runtime_error(std::string("CUDA error: ") + call + " failed with " + cudaGetErrorName(err) + " (" +
                           cudaGetErrorString(err) + ") at " + file + ":" + std::to_string(line));
}

}  // namespace gpt::cuda

#define CUDA_CHECK(call) ::gpt::cuda::check((call), #call, __FILE__, __LINE__)
// After a <<<…>>> launch: configuration errors surface here, faults in the kernel at the next sync.
#define CUDA_CHECK_LAUNCH(kernel) ::gpt::cuda::check(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)
#define GPT_REQUIRE(cond, message)                                               \
  do {                                                                           \
    if (!(cond)) throw std::invalid_argument(std::string("gpt-cuda: ") + (message)); \
  } while (0)
