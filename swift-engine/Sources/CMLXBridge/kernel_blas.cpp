// Finding cblas_sgemm and OpenBLAS's thread controls among the libraries loaded with libmlx.
#include "kernel_blas.hpp"

#include <dlfcn.h>

#include <mutex>

namespace nucleus::kernels {

namespace {

template <typename F> F lookup(const char *name) { return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name)); }

struct BlasThreads {
  void (*set)(int) = lookup<void (*)(int)>("openblas_set_num_threads");
  int (*get)() = lookup<int (*)()>("openblas_get_num_threads");
  int own = get ? get() : 1;  // what the library chose at start-up
  std::mutex mutex;
  int current = own;
};

BlasThreads &blas_threads() {
  static BlasThreads *threads = new BlasThreads();
  return *threads;
}

}  // namespace

SgemmFunction sgemm() {
  static const SgemmFunction function = lookup<SgemmFunction>("cblas_sgemm");
  return function;
}

void use_blas_threads(bool own_threads) {
  BlasThreads &threads = blas_threads();
  if (!threads.set) return;
  std::lock_guard<std::mutex> lock(threads.mutex);
  int wanted = own_threads ? threads.own : 1;
  if (wanted != threads.current) {
    threads.set(wanted);
    threads.current = wanted;
  }
}

}  // namespace nucleus::kernels
