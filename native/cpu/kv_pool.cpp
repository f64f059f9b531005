#include "cpu/kv_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/resource_error.h"

namespace gpt::cpu {

KvPool::KvPool(const KvPoolDims& dims) {
  // One block more than asked: the scratch block that padding rows write (core/backend.h).
  layer_floats_ = (dims.blocks + 1) * dims.kv_heads * kKvBlockSize * dims.head_dim;
  bytes_ = size_t(dims.layers) * 2 * size_t(layer_floats_) * sizeof(float);
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw ResourceError("cannot reserve " + std::to_string(bytes_ >> 20) + " MiB of address space for the KV cache (" +
                        std::to_string(dims.blocks * kKvBlockSize) + " tokens): " + std::strerror(errno));
  data_ = static_cast<float*>(p);
}

KvPool::~KvPool() {
  if (data_) ::munmap(data_, bytes_);
}

PagedLayer KvPool::layer(int64_t layer) const {
  float* k = data_ + 2 * layer * layer_floats_;
  return PagedLayer{k, k + layer_floats_};
}

}  // namespace gpt::cpu
