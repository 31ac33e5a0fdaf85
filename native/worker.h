// A dedicated compute thread per model with a FIFO job queue. LibTorch's intra-op
// (OpenMP) pool is per calling thread, so one long-lived thread keeps one pool, orders
// the steps of a model, and leaves libuv's pool free for file I/O and image decoding.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace skipnet {

class Worker {
 public:
  // onStart runs first on the new thread (thread count set-up); onStop runs last.
  Worker(std::function<void()> onStart, std::function<void()> onStop);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(std::function<void()> job);
  // Lets queued jobs finish, then ends the thread. Does not wait.
  void requestStop();
  // Waits for the thread to end (after requestStop).
  void join();

 private:
  void loop();

  std::function<void()> onStart_, onStop_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace skipnet
