// Finding the sgemm providers (kernel_blas.hpp): the BLAS library loaded with libmlx, and oneMKL beside it.
#include "kernel_blas.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace nucleus::kernels {

namespace {

template <typename F> F lookup(void *handle, const char *name) { return reinterpret_cast<F>(dlsym(handle, name)); }

struct BlasThreads {
  void (*set)(int) = lookup<void (*)(int)>(RTLD_DEFAULT, "openblas_set_num_threads");
  int (*get)() = lookup<int (*)()>(RTLD_DEFAULT, "openblas_get_num_threads");
  int own = get ? get() : 1;  // what the library chose at start-up
  std::mutex mutex;
  int current = own;
};

BlasThreads &blas_threads() {
  static BlasThreads *threads = new BlasThreads();
  return *threads;
}

SgemmFunction linked_sgemm() {
  static const SgemmFunction function = lookup<SgemmFunction>(RTLD_DEFAULT, "cblas_sgemm");
  return function;
}

// MKL's single dynamic library picks the interface and threading layers at run time; these must be set before any
// other MKL call. Values from mkl_service.h.
constexpr int mkl_interface_lp64 = 0;
constexpr int mkl_threading_sequential = 1;

struct Mkl {
  SgemmFunction sgemm = nullptr;
  std::string problem;  // why it is not available
};

// <directory of the library that provides cblas_sgemm>/mkl/libmkl_rt.so.3, where scripts/install-cpu-mkl.sh
// puts it; NUCLEUS_MKL_LIBRARY names another file.
std::string mkl_path() {
  if (const char *path = std::getenv("NUCLEUS_MKL_LIBRARY"); path && *path) return path;
  Dl_info info{};
  SgemmFunction linked = linked_sgemm();
  if (!linked || !dladdr(reinterpret_cast<void *>(linked), &info) || !info.dli_fname) return "";
  std::string library = info.dli_fname;
  size_t slash = library.rfind('/');
  return (slash == std::string::npos ? std::string(".") : library.substr(0, slash)) + "/mkl/libmkl_rt.so.3";
}

Mkl load_mkl() {
  Mkl mkl;
  std::string path = mkl_path();
  if (path.empty()) {
    mkl.problem = "no BLAS library is loaded to find oneMKL beside";
    return mkl;
  }
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *error = dlerror();
    mkl.problem = "oneMKL could not be loaded from " + path + " (" + (error ? error : "unknown error") +
                  "); npm run setup installs it on x86-64 Linux";
    return mkl;
  }
  auto set_interface = lookup<int (*)(int)>(handle, "MKL_Set_Interface_Layer");
  auto set_threading = lookup<int (*)(int)>(handle, "MKL_Set_Threading_Layer");
  auto function = lookup<SgemmFunction>(handle, "cblas_sgemm");
  if (!set_interface || !set_threading || !function) {
    mkl.problem = path + " is not oneMKL's runtime library (MKL_Set_*_Layer or cblas_sgemm missing)";
    return mkl;  // the handle stays open: closing a library that may have run constructors is not worth it
  }
  if (set_interface(mkl_interface_lp64) != mkl_interface_lp64 ||
      set_threading(mkl_threading_sequential) != mkl_threading_sequential) {
    mkl.problem = "oneMKL at " + path + " refused the LP64 interface or its sequential layer";
    return mkl;
  }
  mkl.sgemm = function;
  return mkl;
}

const Mkl &mkl() {
  static const Mkl *loaded = new Mkl(load_mkl());
  return *loaded;
}

enum class Provider { openblas = 0, mkl = 1 };

Provider parse_provider(const char *name) {
  std::string text = name ? name : "";
  if (text.empty() || text == "auto") return mkl().sgemm ? Provider::mkl : Provider::openblas;
  if (text == "openblas") return Provider::openblas;
  if (text == "mkl") {
    if (!mkl().sgemm) throw std::invalid_argument(mkl().problem);
    return Provider::mkl;
  }
  throw std::invalid_argument("unknown sgemm provider \"" + text + "\": use auto, mkl or openblas");
}

std::atomic<int> &provider() {
  static std::atomic<int> value{[] {
    try {
      return static_cast<int>(parse_provider(std::getenv("NUCLEUS_CPU_SGEMM")));
    } catch (const std::exception &) {
      return static_cast<int>(parse_provider("auto"));  // an unusable request never stops the engine
    }
  }()};
  return value;
}

}  // namespace

SgemmFunction sgemm() {
  return static_cast<Provider>(provider().load()) == Provider::mkl ? mkl().sgemm : linked_sgemm();
}

const char *sgemm_name() {
  if (static_cast<Provider>(provider().load()) == Provider::mkl) return "mkl";
  if (!linked_sgemm()) return "none";
  return blas_threads().get ? "openblas" : "reference";  // the wheel's own BLAS when NUCLEUS_CPU_BLAS=reference
}

bool mkl_available() { return mkl().sgemm != nullptr; }

void select_sgemm(const char *name) { provider().store(static_cast<int>(parse_provider(name))); }

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
