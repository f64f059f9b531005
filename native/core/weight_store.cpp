#include "core/weight_store.h"

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
  }
  return 0.0f;
}

void store_from_f32(void* dst, DType dtype, int64_t i, float v) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(dst)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v); break;
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

WeightStore::WeightStore(const std::vector<std::string>& files, const std::vector<TensorSpec>& tensors,
                         std::optional<DType> convert_to) {
  // Used in place, the mapping is read in up front so the first forward pass does not
  // page-fault through it. When converting, each tensor's pages come in as it is converted and
  // are dropped after, so memory never holds both copies of the whole checkpoint.
  for (const std::string& path : files)
    files_.push_back(std::make_unique<MappedFile>(path, /*populate=*/!convert_to.has_value()));

  for (const TensorSpec& t : tensors) {
    if (t.file >= files_.size()) throw std::runtime_error("tensor " + t.name + ": file index out of range");
    const MappedFile& file = *files_[t.file];
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d <= 0) throw std::runtime_error(file.path() + ": tensor " + t.name + " has a non-positive dimension");
      numel *= d;
    }
    if (uint64_t(numel) * dtype_size(t.dtype) != t.byte_length)
      throw std::runtime_error(file.path() + ": tensor " + t.name + ": byte length disagrees with its shape");
    if (t.offset > file.size() || t.byte_length > file.size() - t.offset)
      throw std::runtime_error(file.path() + ": tensor " + t.name + " lies outside the file (offset " +
                               std::to_string(t.offset) + ", " + std::to_string(t.byte_length) + " bytes, file has " +
                               std::to_string(file.size()) + ")");

    const unsigned char* src = file.data() + t.offset;
    DType want = convert_to.value_or(t.dtype);
    WeightView view;
    view.shape = t.shape;
    view.dtype = want;
    if (want == t.dtype && aligned_for_kernels(src)) {
      view.data = src;
    } else {
      unsigned char* buf = allocate(size_t(numel) * dtype_size(want));
      // Convert (or copy) in chunks and drop each chunk's mapped pages once done, so that memory
      // holds about one copy of each weight, not two, even for the embedding (the largest tensor).
      const int64_t chunk = int64_t(1) << 20;
      const size_t elem = dtype_size(t.dtype);
      for (int64_t begin = 0; begin < numel; begin += chunk) {
        const int64_t end = std::min(numel, begin + chunk);
        if (want == t.dtype)
          std::memcpy(buf + size_t(begin) * elem, src + size_t(begin) * elem, size_t(end - begin) * elem);
        else
          for (int64_t i = begin; i < end; ++i) store_from_f32(buf, want, i, load_as_f32(src, t.dtype, i));
        file.release(t.offset + size_t(begin) * elem, size_t(end - begin) * elem);
      }
      view.data = buf;
    }
    add(t.name, std::move(view));
  }
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
    const bool scale = t.name.find("ln_") != std::string::npos && t.name.size() > 7 &&
                       t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
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

const WeightView& WeightStore::get(const std::string& name) const {
  auto it = views_.find(name);
  if (it == views_.end()) throw std::runtime_error("missing tensor " + name);
  return it->second;
}

}  // namespace gpt
