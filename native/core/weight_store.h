// Owns the bytes behind every weight: mapped checkpoint files, plus page-aligned copies of the
// tensors whose storage dtype differs from the one asked for, or that do not start on a 64-byte
// boundary in their file (the kernels stream weight rows in whole cache lines).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/weight_view.h"

namespace gpt {

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t file = 0;      // index into the file list
  uint64_t offset = 0;  // absolute byte offset in that file
  uint64_t byte_length = 0;
};

class WeightStore {
 public:
  // Maps the files and builds a view per tensor. When `convert_to` is set, every tensor is
  // stored in that dtype. Throws std::runtime_error naming the file and tensor at fault.
  WeightStore(const std::vector<std::string>& files, const std::vector<TensorSpec>& tensors,
              std::optional<DType> convert_to);

  // Random weights of the given names, shapes and dtypes, for benchmarks at real model sizes
  // without a checkpoint: uniform values of a small scale, LayerNorm scales near 1.
  static std::unique_ptr<WeightStore> random(const std::vector<TensorSpec>& tensors, uint64_t seed);

  // Throws std::runtime_error when the tensor is absent.
  const WeightView& get(const std::string& name) const;
  size_t resident_bytes() const { return resident_bytes_; }

 private:
  struct FreeDeleter {
    void operator()(unsigned char* p) const;
  };

  WeightStore() = default;
  void add(const std::string& name, WeightView view);
  // A page-aligned buffer of `bytes` that the store owns.
  unsigned char* allocate(size_t bytes);

  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<unsigned char, FreeDeleter>> owned_;
  std::map<std::string, WeightView> views_;
  size_t resident_bytes_ = 0;
};

}  // namespace gpt
