// CPU feature detection, the kernel variant in use, and the kernel threads.
#include "kernel_cpu.hpp"

#include "kernel_blas.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define NUCLEUS_X86 1
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace nucleus::kernels {

namespace {

#ifdef NUCLEUS_X86
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

Isa detect() {
#ifdef NUCLEUS_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::portable;
  bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!(fma && osxsave && avx)) return Isa::portable;
  uint64_t xcr0 = read_xcr0();
  bool ymm_state = (xcr0 & 0x6) == 0x6;               // the OS saves SSE and AVX registers
  bool zmm_state = (xcr0 & 0xe6) == 0xe6;             // ... and the AVX-512 opmask and upper registers
  if (!ymm_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::portable;
  bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
  if (avx2 && avx512f && zmm_state) return Isa::avx512;
  if (avx2) return Isa::avx2;
#endif
  return Isa::portable;
}

Isa parse(const char *name) {
  std::string text = name ? name : "";
  if (text.empty() || text == "auto") return best_supported();
  if (text == "mlx") return Isa::mlx;
  if (text == "portable") return Isa::portable;
  if (text == "avx2") return Isa::avx2;
  if (text == "avx512") return Isa::avx512;
  throw std::invalid_argument("unknown CPU kernel variant \"" + text +
                              "\": use auto, mlx, portable, avx2 or avx512");
}

Isa initial_selection() {
  const char *requested = std::getenv("NUCLEUS_CPU_KERNELS");
  if (requested == nullptr) return best_supported();
  try {
    Isa isa = parse(requested);
    if (supported(isa)) return isa;
  } catch (const std::exception &) {
  }
  return best_supported();  // an unusable request never stops the engine; the active variant is reported
}

std::atomic<int> &selection() {
  static std::atomic<int> value{[] {
    Isa isa = initial_selection();
    use_blas_threads(isa == Isa::mlx);
    return static_cast<int>(isa);
  }()};
  return value;
}

int available_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

// A fixed set of worker threads that sleep between jobs. One job at a time; the caller takes part as worker 0.
class ThreadPool {
 public:
  explicit ThreadPool(int workers) : size_(std::max(1, workers)) {
    for (int index = 1; index < size_; index++) threads_.emplace_back([this, index] { work(index); });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto &thread : threads_) thread.join();
  }

  int size() const { return size_; }

  void run(int tasks, const std::function<void(int, int)> &body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || size_ == 1 || tasks <= 1) {
      for (int task = 0; task < tasks; task++) body(task, 0);
      return;
    }
    Job job{&body, tasks};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      pending_ = size_ - 1;
      generation_++;
    }
    wake_.notify_all();
    drain(job, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  struct Job {
    const std::function<void(int, int)> *body;
    int tasks;
    std::atomic<int> next{0};
  };

  static void drain(Job &job, int worker) {
    for (int task = job.next.fetch_add(1); task < job.tasks; task = job.next.fetch_add(1)) (*job.body)(task, worker);
  }

  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      Job *job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      drain(*job, index);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  const int size_;
  std::vector<std::thread> threads_;
  std::mutex busy_;  // held by the caller of run for the whole job
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Job *job_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

ThreadPool &pool() {
  // Never destroyed: worker threads must not be joined from static destructors at exit.
  static ThreadPool *shared = new ThreadPool(worker_count());
  return *shared;
}

}  // namespace

const char *isa_name(Isa isa) {
  switch (isa) {
    case Isa::mlx: return "mlx";
    case Isa::portable: return "portable";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

Isa best_supported() {
  static const Isa best = detect();
  return best;
}

bool supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(best_supported()); }

Isa selected() { return static_cast<Isa>(selection().load()); }

void select(const char *name) {
  Isa isa = parse(name);
  if (!supported(isa)) {
    throw std::invalid_argument(std::string("this CPU cannot run the ") + isa_name(isa) + " kernels (best: " +
                                isa_name(best_supported()) + ")");
  }
  selection().store(static_cast<int>(isa));
  use_blas_threads(isa == Isa::mlx);
}

int worker_count() {
  static const int count = [] {
    if (const char *text = std::getenv("NUCLEUS_CPU_THREADS")) {
      int requested = std::atoi(text);
      if (requested > 0) return std::min(requested, 256);
    }
    return std::min(available_cpus(), 256);
  }();
  return count;
}

void parallel_for(int tasks, const std::function<void(int, int)> &body) { pool().run(tasks, body); }

}  // namespace nucleus::kernels
