#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace gpt {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

using Clock = std::chrono::steady_clock;

// A waiting thread spins on the shared line this long (the next loop of a forward pass usually
// starts within microseconds), then yields its CPU between checks up to kIdle, then sleeps.
constexpr std::chrono::microseconds kSpin{30};
constexpr std::chrono::microseconds kIdle{3000};

inline uint32_t generation_of(uint64_t cursor) { return uint32_t(cursor >> 32); }

// The task index of a loop whose job is still being written.
constexpr uint32_t kNotReady = 0xffffffffu;

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
    cursor_.store(uint64_t(generation_ + 1) << 32);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

int64_t ThreadPool::run_tasks(uint32_t generation, int thread) {
  int64_t ran = 0;
  uint64_t c = cursor_.load(std::memory_order_acquire);
  for (;;) {
    if (generation_of(c) != generation) break;
    const uint32_t index = uint32_t(c);
    if (index == kNotReady) {  // the caller is still writing this loop's job
      cpu_relax();
      c = cursor_.load(std::memory_order_acquire);
      continue;
    }
    // Read before the claim. A successful claim below proves the cursor was still in this loop,
    // so the caller had not begun the next one (it retires the cursor before rewriting these).
    const int64_t count = task_count_.load(std::memory_order_acquire);
    const Job* job = job_.load(std::memory_order_acquire);
    if (int64_t(index) >= count) break;
    if (!cursor_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    (*job)(int64_t(index), thread);
    ++ran;
    c = cursor_.load(std::memory_order_acquire);
  }
  return ran;
}

void ThreadPool::parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn) {
  parallel_for_indexed(tasks, [&fn](int64_t task, int) { fn(task); });
}

void ThreadPool::parallel_for_indexed(int64_t tasks, const std::function<void(int64_t, int)>& fn) {
  if (tasks <= 0) return;
  if (workers_.empty() || tasks == 1) {
    for (int64_t i = 0; i < tasks; ++i) fn(i, 0);
    return;
  }
  // Task indices live in 32 bits of the cursor; a larger loop runs as several.
  constexpr int64_t kMaxTasks = int64_t(1) << 31;
  if (tasks > kMaxTasks) {
    for (int64_t base = 0; base < tasks; base += kMaxTasks)
      parallel_for_indexed(std::min(kMaxTasks, tasks - base),
                           [&](int64_t task, int thread) { fn(base + task, thread); });
    return;
  }
  // Retire the previous loop's cursor first: a worker that read it just before can no longer
  // claim a task with it, whatever job and count it reads next.
  const uint32_t generation = ++generation_;
  cursor_.store(uint64_t(generation) << 32 | kNotReady);
  job_.store(&fn, std::memory_order_release);
  task_count_.store(tasks, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  // seq_cst pairs with the worker's sleepers_ increment: either it sees this loop before it
  // sleeps, or this thread sees it asleep and wakes it under the mutex.
  cursor_.store(uint64_t(generation) << 32);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  int64_t ran = run_tasks(generation, 0);
  if (done_.fetch_add(ran, std::memory_order_acq_rel) + ran == tasks) return;
  const auto spin_until = Clock::now() + kSpin;
  for (int spin = 1; done_.load(std::memory_order_acquire) != tasks; ++spin) {
    if (spin % 64 != 0 || Clock::now() < spin_until)
      cpu_relax();
    else
      std::this_thread::yield();  // the workers still busy may need this CPU
  }
}

void ThreadPool::worker_loop(int thread) {
  // Generation 0 is the pool's state at construction; the first loop is generation 1.
  uint32_t seen = 0;
  for (;;) {
    const auto start = Clock::now();
    for (int spin = 1; generation_of(cursor_.load(std::memory_order_acquire)) == seen; ++spin) {
      if (spin % 64 != 0) {
        cpu_relax();
        continue;
      }
      const auto waited = Clock::now() - start;
      if (waited < kSpin) continue;
      if (waited < kIdle) {
        std::this_thread::yield();
        continue;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_of(cursor_.load()) != seen; });
      sleepers_.fetch_sub(1);
      break;
    }
    seen = generation_of(cursor_.load(std::memory_order_acquire));
    if (stopping_.load()) return;
    const int64_t ran = run_tasks(seen, thread);
    if (ran) done_.fetch_add(ran, std::memory_order_acq_rel);
  }
}

}  // namespace gpt
