// CPU feature detection, the kernel variant in use, and the kernel threads.
#include "kernel_cpu.hpp"

#include "kernel_blas.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
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

inline void cpu_relax() {
#ifdef NUCLEUS_X86
  __builtin_ia32_pause();
#endif
}

// A fixed set of worker threads; one job at a time, the caller taking part as worker 0. Tasks are claimed one by
// one through a single atomic word (job epoch | task count | next task), so a worker that wakes late, or is
// descheduled by another process on a busy machine, never holds the caller up unless it owns a claimed task: the
// caller waits for claimed tasks to finish, not for every worker to show up. Workers spin briefly between jobs
// (the next operation usually follows within microseconds), then sleep.
class ThreadPool {
 public:
  explicit ThreadPool(int workers) : size_(std::max(1, workers)) {
    for (int index = 1; index < size_; index++) threads_.emplace_back([this, index] { serve(index); });
  }

  int size() const { return size_; }

  void run(int tasks, const std::function<void(int, int)> &body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || size_ == 1 || tasks <= 1 || tasks > max_tasks) {
      for (int task = 0; task < tasks; task++) body(task, 0);
      return;
    }
    uint64_t epoch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      epoch = epoch_ = (epoch_ + 1) & 0xffff;
      body_.store(&body, std::memory_order_relaxed);
      done_.store(0, std::memory_order_relaxed);
      state_.store(epoch << 48 | static_cast<uint64_t>(tasks) << 24, std::memory_order_release);
    }
    wake_.notify_all();
    work(epoch, 0);
    spin_while([&] { return done_.load(std::memory_order_acquire) < tasks; });
    if (done_.load(std::memory_order_acquire) < tasks) {
      std::unique_lock<std::mutex> lock(mutex_);
      finished_.wait(lock, [&] { return done_.load(std::memory_order_acquire) >= tasks; });
    }
  }

 private:
  static constexpr int max_tasks = (1 << 24) - 1;
  // Spins for up to ~50 µs while `waiting()` holds (PAUSE takes anything from 10 to 150 cycles, so time it).
  template <typename Predicate>
  static void spin_while(Predicate waiting) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    while (waiting()) {
      for (int i = 0; i < 16; i++) cpu_relax();
      if (std::chrono::steady_clock::now() > until) return;
    }
  }

  // Claims and runs tasks of job `epoch` until none is left (or another job has started).
  void work(uint64_t epoch, int worker) {
    const std::function<void(int, int)> *body = body_.load(std::memory_order_acquire);
    for (;;) {
      uint64_t state = state_.load(std::memory_order_acquire);
      uint64_t next = state & 0xffffff, tasks = (state >> 24) & 0xffffff;
      if ((state >> 48) != epoch || next >= tasks) return;
      if (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) continue;
      (*body)(static_cast<int>(next), worker);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<int>(tasks)) {
        { std::lock_guard<std::mutex> lock(mutex_); }
        finished_.notify_one();
      }
    }
  }

  void serve(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t epoch = seen;
      spin_while([&] { return (epoch = state_.load(std::memory_order_acquire) >> 48) == seen; });
      if (epoch == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return epoch_ != seen; });
        epoch = epoch_;
      }
      seen = epoch;
      work(epoch, index);
    }
  }

  const int size_;
  std::vector<std::thread> threads_;
  std::mutex busy_;  // held by the caller of run for the whole job
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  uint64_t epoch_ = 0;  // the current job's epoch, under mutex_ (for sleeping workers)
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};
  std::atomic<const std::function<void(int, int)> *> body_{nullptr};
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
