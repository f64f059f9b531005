// Owns the bytes behind every weight: mapped checkpoint files, plus page-aligned copies of the
// tensors whose storage dtype differs from the one asked for, that do not start on a 64-byte
// boundary in their file (the kernels stream weight rows in whole cache lines), or that the
// engine reads in another layout than the checkpoint stores (see TensorSpec). Without mapping
// (the mmap: false load option) every tensor is such a copy, read from its file at load.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/checkpoint_file.h"
#include "core/weight_view.h"

namespace gpt {

// A stored tensor, or a part of one: bytes of a checkpoint file.
struct TensorSource {
  size_t file = 0;      // index into the file list
  uint64_t offset = 0;  // absolute byte offset in that file
  uint64_t byte_length = 0;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // 1-D or 2-D
};

// A weight as the engine reads it, made from stored tensors: the sources stacked along their
// first dimension (nn.Linear's q, k and v into one [3C, C]), its rows then taken in `row_order`
// (BLOOM's head-interleaved q|k|v into q | k | v), then transposed when `transpose` (nn.Linear's
// [out, in] into the [in, out] the matmul reads). One source with none of that is used where it
// lies; no source at all is a tensor of zeros (a bias a checkpoint leaves out).
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<TensorSource> sources;
  std::vector<int64_t> row_order;  // empty: the stack's own order
  bool transpose = false;
};

class WeightStore {
 public:
  // Maps the files (or with `map_files` false reads them) and builds a view per tensor. When
  // `convert_to` is set, every tensor is stored in that dtype. Throws std::runtime_error naming
  // the file and tensor at fault.
  WeightStore(const std::vector<std::string>& files, const std::vector<TensorSpec>& tensors,
              std::optional<DType> convert_to, bool map_files);

  // Random weights of the given names, shapes and dtypes, for benchmarks at real model sizes
  // without a checkpoint: uniform values of a small scale, LayerNorm scales near 1.
  static std::unique_ptr<WeightStore> random(const std::vector<TensorSpec>& tensors, uint64_t seed);

  // Throws std::runtime_error when the tensor is absent.
  const WeightView& get(const std::string& name) const;
  // Gives back the bytes behind `view` (one of get()'s), which a backend now keeps in a copy of its
  // own: an owned copy is freed, a tensor used in place has its mapped pages dropped. The view is
  // not to be read again.
  void release(const WeightView& view);
  // The same for bytes [offset, offset + bytes) of `view`'s (whole pages of them): for a weight a
  // backend copies part by part.
  void release_part(const WeightView& view, size_t offset, size_t bytes);
  // `view` was released for a backend's `copy` of it (another layout; int8 is smaller): the
  // weights' bytes count the copy from now on.
  void replaced(const WeightView& view, const WeightView& copy) { resident_bytes_ += copy.bytes() - view.bytes(); }
  // A backend's `copy` of a tensor whose stored bytes it reads too: both count.
  void kept_beside(const WeightView& copy) { resident_bytes_ += copy.bytes(); }
  // Drops the memory-mapped pages behind `view` (one of get()'s) that reading it brought in; they
  // come back from the file when read again (a table whose rows are looked up a few at a time).
  // An owned copy is left as it is.
  void evict(const WeightView& view) const;
  // The weights' bytes: as stored, and as the backend keeps those it copied.
  size_t resident_bytes() const { return resident_bytes_; }

 private:
  struct FreeDeleter {
    void operator()(unsigned char* p) const;
  };

  WeightStore() = default;
  void add(const std::string& name, WeightView view);
  // std::runtime_error naming the file and tensor when `src` does not lie in its file as described.
  void check_source(const TensorSpec& t, const TensorSource& src) const;
  // `src` in dtype `want`, in a buffer of its own.
  const void* converted(const TensorSource& src, DType want);
  // The tensor `t` describes, made from its sources in dtype `want`.
  const void* laid_out(const TensorSpec& t, DType want);
  // A page-aligned buffer of `bytes` that the store owns.
  unsigned char* allocate(size_t bytes);

  std::vector<std::unique_ptr<CheckpointFile>> files_;
  std::vector<std::unique_ptr<unsigned char, FreeDeleter>> owned_;
  std::map<std::string, WeightView> views_;
  size_t resident_bytes_ = 0;
};

}  // namespace gpt
