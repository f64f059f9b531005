// A whole file mapped read-only into memory. The checkpoint's tensors are used in place from the
// mapping when no dtype conversion is asked for, so loading never holds two copies of a weight.
#pragma once
#include <cstddef>
#include <string>

namespace gpt {

class MappedFile {
 public:
  // Throws std::runtime_error naming the path and the OS error. `populate` reads the whole file
  // in now; without it pages come in as they are first touched.
  MappedFile(const std::string& path, bool populate);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tell the kernel that [offset, offset+length) will not be read again (after converting it).
  void release(size_t offset, size_t length) const;

 private:
  std::string path_;
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace gpt
