// What the CUDA runtime sees on this machine, in plain C++ types (no CUDA headers), for
// napi/cuda_info.cpp. A machine without a driver or GPU has no devices: that is not an error.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace gpt::cuda {

struct DeviceInfo {
  std::string name;
  size_t total_memory;  // bytes
  int major, minor;     // compute capability
  int multiprocessors;
};

// Empty when cudaGetDeviceCount fails (no driver, no device, driver too old for this runtime).
std::vector<DeviceInfo> list_devices();

struct MemoryInfo {
  size_t free, total;  // bytes
};

// cudaMemGetInfo on `device` (creating its context if this process has none yet).
MemoryInfo memory_info(int device);

// The runtime version this binary was linked with, e.g. 13000 for 13.0.
int runtime_version();

}  // namespace gpt::cuda
