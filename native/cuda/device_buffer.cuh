// An owned device allocation: cudaMalloc on construction (after checking that it fits, with an
// error naming both figures), cudaFree on destruction; move-only.
#pragma once
#include <cstddef>
#include <string>
#include <utility>

#include "core/resource_error.h"
#include "cuda/check.cuh"

namespace gpt::cuda {

// "12 MiB": sizes in error messages, rounded up.
inline std::string mib_text(size_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

// Throws ResourceError, saying `what` needs `bytes` (and of what, when `detail` is given),
// when that exceeds the current device's free memory.
inline void require_free_memory(size_t bytes, const std::string& what, const std::string& detail = "") {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (bytes <= free_bytes) return;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  throw ResourceError("gpt-cuda: " + what + " needs " + mib_text(bytes) + " of GPU memory" +
                           (detail.empty() ? "" : " (" + detail + ")") + ", but CUDA device " +
                           std::to_string(device) + " has only " + mib_text(free_bytes) + " free (of " +
                           mib_text(total_bytes) + ")");
}

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, const std::string& what) : bytes_(bytes) {
    if (bytes == 0) return;
    require_free_memory(bytes, what);
    CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);  // no throw from a destructor; a failed free means a dead context
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace gpt::cuda
