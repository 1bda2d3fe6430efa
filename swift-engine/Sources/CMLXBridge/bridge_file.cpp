// Reading tensor bytes from a file straight into MLX-owned memory: one copy from the page cache, no staging
// buffer, so a streaming loader's peak stays near the tensor being read.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge_internal.hpp"

namespace mx = mlx::core;

namespace {

struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) close(fd);
  }
};

std::string describe_errno(const std::string &what) { return what + ": " + std::strerror(errno); }

}  // namespace

extern "C" {

int mlxb_read_file_range(const char *path, uint64_t offset, mlxb_dtype dtype, const int32_t *shape, size_t ndim,
                         mlxb_array *out) {
  return mlxb::guarded([&] {
    auto dims = mlxb::shape_from(shape, ndim);
    size_t count = 1;
    for (auto d : dims) {
      if (d < 0) throw std::invalid_argument("negative dimension");
      count *= static_cast<size_t>(d);
    }
    auto type = mlxb::to_mlx(dtype);
    size_t bytes = count * mx::size_of(type);

    // Regular files only (links are followed: the Hugging Face cache links snapshot files to blobs), and never
    // blocking on a FIFO.
    FileDescriptor file{open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (file.fd < 0) throw std::runtime_error(describe_errno(std::string("cannot open ") + path));
    struct stat info;
    if (fstat(file.fd, &info) != 0) throw std::runtime_error(describe_errno(std::string("cannot stat ") + path));
    if (!S_ISREG(info.st_mode)) throw std::runtime_error(std::string(path) + " is not a regular file");
    if (offset > static_cast<uint64_t>(info.st_size) || bytes > static_cast<uint64_t>(info.st_size) - offset) {
      throw std::runtime_error(std::string(path) + " is shorter than its header says (truncated?)");
    }

    auto data = mx::allocator::malloc(bytes);
    auto *target = static_cast<char *>(data.buffer().raw_ptr());
    size_t done = 0;
    while (done < bytes) {
      ssize_t n = pread(file.fd, target + done, bytes - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(describe_errno(std::string("cannot read ") + path));
      if (n == 0) throw std::runtime_error(std::string(path) + " ended early (truncated?)");
      done += static_cast<size_t>(n);
    }
    *out = mlxb::wrap(mx::array(std::move(data), dims, type));
  });
}

}  // extern "C"
