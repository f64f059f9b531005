#include "core/checkpoint_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace gpt {

CheckpointFile::CheckpointFile(const std::string& path, FileAccess access) : path_(path) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer for good; the file is then
  // refused for not being regular (it could have been swapped since lib/checkpoint looked at it).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error(path + ": is not a regular file (a FIFO, socket or device)");
  }
  size_ = size_t(st.st_size);
  if (access == FileAccess::kRead) {
    fd_ = fd;
    return;
  }
  if (size_ > 0) {
    const int populate = access == FileAccess::kMapPopulated ? MAP_POPULATE : 0;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | populate, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw std::runtime_error(path + ": cannot map: " + std::strerror(err));
    }
    data_ = static_cast<unsigned char*>(p);
  }
  ::close(fd);
}

CheckpointFile::~CheckpointFile() {
  if (data_) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

void CheckpointFile::read(uint64_t offset, size_t length, unsigned char* dst) const {
  if (fd_ < 0) throw std::logic_error(path_ + ": read() on a mapped file");
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd_, dst + done, length - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(path_ + ": cannot read: " + std::strerror(errno));
    if (n == 0)
      throw std::runtime_error(path_ + ": the file ends at byte " + std::to_string(offset + done) + ", before the " +
                               std::to_string(length) + " bytes from " + std::to_string(offset) +
                               " (was it cut short while loading?)");
    done += size_t(n);
  }
}

void CheckpointFile::release(size_t offset, size_t length) const {
  if (!data_) return;
  long page = ::sysconf(_SC_PAGESIZE);
  size_t begin = (offset + size_t(page) - 1) / size_t(page) * size_t(page);
  size_t end = (offset + length) / size_t(page) * size_t(page);
  if (end > begin) ::madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

}  // namespace gpt
