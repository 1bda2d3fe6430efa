// The engine's own CPU kernels: which instruction set they use and the threads they run on.
//
// MLX's CPU backend runs most operations on one thread with scalar code (exp in particular). For the hot spots we
// add kernels of our own as MLX primitives. Each kernel is compiled three times from one source: for AVX-512, for
// AVX2 with FMA, and portably (plain C++, for older CPUs and as the reference path in the parity tests). The
// variant is chosen at run time from the CPU's features; NUCLEUS_CPU_KERNELS or mlxb_cpu_kernels_select can pin
// one, or choose "mlx" to use MLX's built-in operations instead.
#pragma once

#include <cstddef>
#include <functional>

namespace nucleus::kernels {

enum class Isa { mlx = 0, portable = 1, avx2 = 2, avx512 = 3 };

const char *isa_name(Isa isa);
// The best variant this CPU (and OS) can run.
Isa best_supported();
bool supported(Isa isa);
// The variant new operations use (read when an operation is built).
Isa selected();
// Selects by name ("auto", "mlx", "portable", "avx2", "avx512"); throws std::invalid_argument for unknown names
// and for variants this CPU cannot run.
void select(const char *name);

// Runs body(task, worker) for task in [0, tasks) on the kernel threads (the caller is worker 0) and returns when all
// are done. Falls back to running every task on the calling thread while another caller holds the threads.
void parallel_for(int tasks, const std::function<void(int task, int worker)> &body);
// How many workers parallel_for may use (NUCLEUS_CPU_THREADS, else the CPUs this process may run on).
int worker_count();

}  // namespace nucleus::kernels
