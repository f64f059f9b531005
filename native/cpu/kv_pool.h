// The CPU backend's KV pool: one anonymous mapping of fp32 keys and values for every layer and
// block (cpu/attention.h gives the layout within a layer). The mapping reserves address space
// only; a page is committed when first written, so memory follows the blocks in use (the block
// pool in lib/engine hands out the most recently freed blocks first), not the pool's capacity.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/kv_layout.h"
#include "cpu/attention.h"

namespace gpt::cpu {

class KvPool {
 public:
  KvPool() = default;
  // Throws ResourceError naming the size when the address space cannot be reserved.
  explicit KvPool(const KvPoolDims& dims);
  ~KvPool();
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  // Layer `layer`'s keys and values.
  PagedLayer layer(int64_t layer) const;
  size_t bytes() const { return bytes_; }

 private:
  float* data_ = nullptr;
  size_t bytes_ = 0;
  int64_t layer_floats_ = 0;  // keys of one layer; its values follow
};

}  // namespace gpt::cpu
