// Device discovery (see device.h). cudaGetDeviceCount is the first runtime call: with the static
// runtime it dlopens libcuda.so, and without a driver it returns an error, which means "none".
#include "cuda/check.cuh"
#include "cuda/device.h"

namespace gpt::cuda {

std::vector<DeviceInfo> list_devices() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return {};
  }
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    CUDA_CHECK(cudaGetDeviceProperties(&p, i));
    out.push_back({p.name, p.totalGlobalMem, p.major, p.minor, p.multiProcessorCount});
  }
  return out;
}

MemoryInfo memory_info(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  MemoryInfo m{};
  CUDA_CHECK(cudaMemGetInfo(&m.free, &m.total));
  return m;
}

int runtime_version() {
  int v = 0;
  CUDA_CHECK(cudaRuntimeGetVersion(&v));
  return v;
}

}  // namespace gpt::cuda
