#include "core/weight_store.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace gpt {

namespace {

float load_as_f32(const unsigned char* src, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, src + 4 * i, 4);
      return f;
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      return f16_to_f32(h);
    }
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      return bf16_to_f32(h);
    }
    case DType::I8: break;  // never stored: checkpoints hold no I8 tensors (spec.cpp refuses them)
  }
  return 0.0f;
}

void store_from_f32(void* dst, DType dtype, int64_t i, float v) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(dst)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v); break;
    case DType::I8: break;  // never a conversion target: quantizing is the CPU backend's (cpu/quantize.h)
  }
}

// Where owned weights start: a page. The kernels read weight rows in runs of 64 to 512 bytes;
// misaligned by a few bytes, every run straddles an extra cache line and page boundary, which
// made batched decode two to three times slower (bench/NOTES.md §8).
constexpr size_t kAlignment = 4096;

bool aligned_for_kernels(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

}  // namespace

void WeightStore::FreeDeleter::operator()(unsigned char* p) const { std::free(p); }

unsigned char* WeightStore::allocate(size_t bytes) {
  void* p = std::aligned_alloc(kAlignment, std::max<size_t>(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment));
  if (!p) throw std::runtime_error("out of memory allocating " + std::to_string(bytes) + " bytes for a weight");
  owned_.emplace_back(static_cast<unsigned char*>(p));
  return owned_.back().get();
}

namespace {

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool used_as_stored(const TensorSpec& t, DType want) {
  return t.sources.size() == 1 && t.row_order.empty() && !t.transpose && t.sources[0].dtype == want &&
         t.sources[0].shape == t.shape;
}

}  // namespace

WeightStore::WeightStore(const std::vector<std::string>& files, const std::vector<TensorSpec>& tensors,
                         std::optional<DType> convert_to, bool map_files) {
  // Used in place, a file is read in up front so the first forward pass does not page-fault
  // through it. When its tensors are converted or laid out anew, each tensor's pages come in as
  // it is made and are dropped after, so memory never holds both copies of the whole checkpoint.
  std::vector<bool> remade(files.size(), false);
  for (const TensorSpec& t : tensors)
    if (convert_to.has_value() || !used_as_stored(t, t.dtype))
      for (const TensorSource& src : t.sources)
        if (src.file < remade.size()) remade[src.file] = true;
  for (size_t i = 0; i < files.size(); ++i)
    files_.push_back(std::make_unique<CheckpointFile>(
        files[i], !map_files ? FileAccess::kRead : remade[i] ? FileAccess::kMapLazy : FileAccess::kMapPopulated));

  for (const TensorSpec& t : tensors) {
    for (int64_t d : t.shape)
      if (d <= 0) throw std::runtime_error("tensor " + t.name + " has a non-positive dimension");
    for (const TensorSource& src : t.sources) check_source(t, src);
    const DType want = convert_to.value_or(t.dtype);
    const TensorSource* only = t.sources.size() == 1 ? &t.sources[0] : nullptr;
    WeightView view;
    view.shape = t.shape;
    view.dtype = want;
    if (used_as_stored(t, want) && files_[only->file]->mapped() &&
        aligned_for_kernels(files_[only->file]->data() + only->offset)) {
      view.data = files_[only->file]->data() + only->offset;
    } else if (only && only->shape == t.shape && t.row_order.empty() && !t.transpose) {
      view.data = converted(*only, want);
    } else {
      view.data = laid_out(t, want);
    }
    add(t.name, std::move(view));
  }
}

void WeightStore::check_source(const TensorSpec& t, const TensorSource& src) const {
  if (src.file >= files_.size()) throw std::runtime_error("tensor " + t.name + ": file index out of range");
  const CheckpointFile& file = *files_[src.file];
  const int64_t numel = numel_of(src.shape);
  for (int64_t d : src.shape)
    if (d <= 0) throw std::runtime_error(file.path() + ": tensor " + t.name + " has a non-positive dimension");
  if (uint64_t(numel) * dtype_size(src.dtype) != src.byte_length)
    throw std::runtime_error(file.path() + ": tensor " + t.name + ": byte length disagrees with its shape");
  if (src.offset > file.size() || src.byte_length > file.size() - src.offset)
    throw std::runtime_error(file.path() + ": tensor " + t.name + " lies outside the file (offset " +
                             std::to_string(src.offset) + ", " + std::to_string(src.byte_length) + " bytes, file has " +
                             std::to_string(file.size()) + ")");
}

const void* WeightStore::converted(const TensorSource& src, DType want) {
  const CheckpointFile& file = *files_[src.file];
  const int64_t numel = numel_of(src.shape);
  unsigned char* buf = allocate(size_t(numel) * dtype_size(want));
  const size_t elem = dtype_size(src.dtype);
  if (!file.mapped() && want == src.dtype) {
    file.read(src.offset, src.byte_length, buf);
    return buf;
  }
  // Convert (or copy) in chunks and drop each chunk's mapped pages once done (or read each chunk
  // on its own), so that memory holds about one copy of each weight, not two, even for the
  // embedding (the largest tensor).
  const int64_t chunk = int64_t(1) << 20;
  std::vector<unsigned char> piece(file.mapped() ? 0 : size_t(std::min(numel, chunk)) * elem);
  for (int64_t begin = 0; begin < numel; begin += chunk) {
    const int64_t end = std::min(numel, begin + chunk);
    const size_t at = size_t(begin) * elem, bytes = size_t(end - begin) * elem;
    const unsigned char* from = file.mapped() ? file.data() + src.offset + at : piece.data();
    if (!file.mapped()) file.read(src.offset + at, bytes, piece.data());
    if (want == src.dtype)
      std::memcpy(buf + at, from, bytes);
    else
      for (int64_t i = begin; i < end; ++i) store_from_f32(buf, want, i, load_as_f32(from, src.dtype, i - begin));
    file.release(src.offset + at, bytes);
  }
  return buf;
}

const void* WeightStore::laid_out(const TensorSpec& t, DType want) {
  // The stack: rows of K elements (1-D sources are rows of one), each at its source's bytes.
  const int64_t K = t.sources.empty() ? 1 : (t.sources[0].shape.size() == 2 ? t.sources[0].shape[1] : 1);
  struct Row {
    const unsigned char* data;
    DType dtype;
  };
  std::vector<Row> stack;
  // The sources of a file that is not mapped, read for the duration of this tensor.
  std::vector<std::vector<unsigned char>> read;
  for (const TensorSource& src : t.sources) {
    if (src.shape.size() > 2 || (src.shape.size() == 2 ? src.shape[1] : 1) != K)
      throw std::runtime_error("tensor " + t.name + ": its sources do not stack (each 1-D, or 2-D with " +
                               std::to_string(K) + " columns)");
    const CheckpointFile& file = *files_[src.file];
    const unsigned char* base;
    if (file.mapped()) {
      base = file.data() + src.offset;
    } else {
      read.emplace_back(size_t(src.byte_length));
      file.read(src.offset, size_t(src.byte_length), read.back().data());
      base = read.back().data();
    }
    for (int64_t r = 0; r < src.shape[0]; ++r) stack.push_back(Row{base + size_t(r * K) * dtype_size(src.dtype), src.dtype});
  }
  const int64_t R = int64_t(stack.size());
  const int64_t numel = numel_of(t.shape);
  unsigned char* buf = allocate(size_t(numel) * dtype_size(want));
  if (t.sources.empty()) {
    std::memset(buf, 0, size_t(numel) * dtype_size(want));
    return buf;
  }
  const std::vector<int64_t> expect = t.transpose ? std::vector<int64_t>{K, R}
                                      : K == 1 && t.shape.size() == 1 ? std::vector<int64_t>{R}
                                                                      : std::vector<int64_t>{R, K};
  if (t.shape != expect)
    throw std::runtime_error("tensor " + t.name + ": its sources make " + std::to_string(R) + " rows of " +
                             std::to_string(K) + ", which do not give its shape");
  std::vector<int64_t> order = t.row_order;
  if (order.empty()) {
    order.resize(size_t(R));
    for (int64_t i = 0; i < R; ++i) order[size_t(i)] = i;
  }
  std::vector<bool> seen(size_t(R), false);
  if (int64_t(order.size()) != R)
    throw std::runtime_error("tensor " + t.name + ": its row order has " + std::to_string(order.size()) + " rows, not " +
                             std::to_string(R));
  for (int64_t r : order) {
    if (r < 0 || r >= R || seen[size_t(r)])
      throw std::runtime_error("tensor " + t.name + ": its row order is not a permutation of its " + std::to_string(R) +
                               " rows");
    seen[size_t(r)] = true;
  }
  if (!t.transpose) {
    for (int64_t i = 0; i < R; ++i) {
      const Row& row = stack[size_t(order[size_t(i)])];
      for (int64_t k = 0; k < K; ++k) store_from_f32(buf, want, i * K + k, load_as_f32(row.data, row.dtype, k));
    }
  } else {
    // out[k][i] = stack[order[i]][k], in tiles of 32 rows so that each source row streams in order.
    constexpr int64_t kTile = 32;
    for (int64_t i0 = 0; i0 < R; i0 += kTile) {
      const int64_t i1 = std::min(R, i0 + kTile);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = i0; i < i1; ++i) {
          const Row& row = stack[size_t(order[size_t(i)])];
          store_from_f32(buf, want, k * R + i, load_as_f32(row.data, row.dtype, k));
        }
    }
  }
  for (const TensorSource& src : t.sources) files_[src.file]->release(src.offset, src.byte_length);
  return buf;
}

void WeightStore::add(const std::string& name, WeightView view) {
  resident_bytes_ += size_t(view.numel()) * dtype_size(view.dtype);
  if (!views_.emplace(name, std::move(view)).second) throw std::runtime_error("tensor " + name + " is listed twice");
}

std::unique_ptr<WeightStore> WeightStore::random(const std::vector<TensorSpec>& tensors, uint64_t seed) {
  std::unique_ptr<WeightStore> store(new WeightStore());
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  for (const TensorSpec& t : tensors) {
    WeightView view;
    view.shape = t.shape;
    view.dtype = t.dtype;
    const int64_t numel = view.numel();
    unsigned char* buf = store->allocate(size_t(numel) * dtype_size(t.dtype));
    // The only 1-D weights are the norms' scales: near 1, not near 0.
    const bool scale = t.shape.size() == 1 && t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
    for (int64_t i = 0; i < numel; ++i) {
      state ^= state << 13;  // xorshift64: fast, and statistics do not matter here
      state ^= state >> 7;
      state ^= state << 17;
      const float u = float(state >> 40) / float(1 << 24) - 0.5f;  // [-0.5, 0.5)
      store_from_f32(buf, t.dtype, i, scale ? 1.0f + 0.1f * u : 0.1f * u);
    }
    view.data = buf;
    store->add(t.name, std::move(view));
  }
  return store;
}

void WeightStore::release(const WeightView& view) {
  const auto* p = static_cast<const unsigned char*>(view.data);
  const size_t bytes = size_t(view.numel()) * dtype_size(view.dtype);
  for (auto& owned : owned_)
    if (owned.get() == p) return owned.reset();
  for (const auto& file : files_)
    if (file->mapped() && file->data() && p >= file->data() && p + bytes <= file->data() + file->size())
      return file->release(size_t(p - file->data()), bytes);
}

void WeightStore::evict(const WeightView& view) const {
  const auto* p = static_cast<const unsigned char*>(view.data);
  const size_t bytes = view.bytes();
  for (const auto& file : files_)
    if (file->mapped() && file->data() && p >= file->data() && p + bytes <= file->data() + file->size())
      return file->release(size_t(p - file->data()), bytes);
}

void WeightStore::release_part(const WeightView& view, size_t offset, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(view.data) + offset;
  for (const auto& file : files_)
    if (file->mapped() && file->data() && p >= file->data() && p + bytes <= file->data() + file->size())
      return file->release(size_t(p - file->data()), bytes);
  // An owned copy: its whole pages are given back (private anonymous memory reads as zeros after
  // MADV_DONTNEED; nobody reads it again, and release() frees it).
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(p) + page - 1) / page * page, end = (uintptr_t(p) + bytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

const WeightView& WeightStore::get(const std::string& name) const {
  auto it = views_.find(name);
  if (it == views_.end()) throw std::runtime_error("missing tensor " + name);
  return it->second;
}

}  // namespace gpt
