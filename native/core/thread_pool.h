// A fixed pool of worker threads for data-parallel loops. The caller's thread takes part, so a
// pool of n threads starts n - 1 workers. Workers spin briefly before sleeping: a decode step
// issues a few hundred small parallel loops, and a futex wake-up per loop would dominate.
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
  // Not reentrant: fn must not call parallel_for on the same pool.
  void parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop();
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_task_{0};
  std::atomic<int> busy_workers_{0};
  int64_t task_count_ = 0;
  const std::function<void(int64_t)>* job_ = nullptr;
  bool stopping_ = false;
};

}  // namespace gpt
