// One checkpoint file the weight store reads its tensors from: mapped read-only (the default: the
// tensors used in place are the mapping's pages, so loading never holds two copies of a weight),
// or opened to be read with pread into the store's own memory (the mmap: false load option, for a
// file that may be truncated or overwritten while the model is loaded: a truncated mapping raises
// SIGBUS on the next read of a lost page, an overwritten one silently changes the weights).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace gpt {

enum class FileAccess {
  kMapPopulated,  // mapped, and read in now (its tensors are used in place)
  kMapLazy,       // mapped, pages coming in as first touched (its tensors are copied out)
  kRead,          // not mapped: read()
};

class CheckpointFile {
 public:
  // Throws std::runtime_error naming the path and the OS error, or that it is not a regular file.
  CheckpointFile(const std::string& path, FileAccess access);
  ~CheckpointFile();
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;

  bool mapped() const { return fd_ < 0; }
  // The mapping (mapped files only).
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Copies [offset, offset + length) into dst (a file opened with kRead); std::runtime_error when
  // the file ends first (cut short since it was opened) or cannot be read.
  void read(uint64_t offset, size_t length, unsigned char* dst) const;
  // Tell the kernel that [offset, offset+length) will not be read again (after converting it); a
  // no-op for a file that is not mapped.
  void release(size_t offset, size_t length) const;

 private:
  std::string path_;
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;  // kept open by kRead
};

}  // namespace gpt
