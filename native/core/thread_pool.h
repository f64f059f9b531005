// A fixed pool of worker threads for data-parallel loops. The caller's thread takes part, so a
// pool of n threads starts n - 1 workers.
//
// A decode step issues about a hundred small parallel loops, so starting one must cost well under
// a microsecond: the caller publishes the loop with one atomic store and takes tasks itself
// straight away; idle workers notice within a few hundred nanoseconds because they spin. A loop
// is done when all of its tasks are, not when every worker has checked in, so a worker that the
// OS has descheduled (a busy or shared machine) costs nothing: the others take its share. Waiting
// threads spin briefly, then yield the CPU, then sleep, so an oversubscribed machine degrades
// gracefully instead of burning time slices in spin loops.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gpt {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls fn(task) for every task in [0, tasks), spread over the pool; returns when all are done.
  // Tasks are handed out one at a time in increasing order, so uneven tasks balance themselves.
  // Not reentrant: fn must not call parallel_for on the same pool.
  void parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn);

  // The same, and fn also learns which thread runs it: thread is in [0, size()), 0 the caller's.
  void parallel_for_indexed(int64_t tasks, const std::function<void(int64_t task, int thread)>& fn);

 private:
  using Job = std::function<void(int64_t, int)>;
  void worker_loop(int thread);
  // Runs tasks of loop `generation` until none is left; returns how many this thread ran.
  int64_t run_tasks(uint32_t generation, int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // (generation << 32) | index of the next task to hand out, claimed by compare-and-swap; one
  // atomic, so a late worker can never take a task of a newer loop for one of an older loop.
  alignas(64) std::atomic<uint64_t> cursor_{0};
  std::atomic<int64_t> task_count_{0};
  std::atomic<const Job*> job_{nullptr};
  alignas(64) std::atomic<int64_t> done_{0};  // tasks of the current loop finished
  std::atomic<int> sleepers_{0};              // workers waiting on wake_
  std::atomic<bool> stopping_{false};
  uint32_t generation_ = 0;  // the caller's copy of the current loop's generation
};

}  // namespace gpt
