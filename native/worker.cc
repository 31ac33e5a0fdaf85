#include "worker.h"

namespace skipnet {

Worker::Worker(std::function<void()> onStart, std::function<void()> onStop)
    : onStart_(std::move(onStart)), onStop_(std::move(onStop)) {
  thread_ = std::thread([this] { loop(); });
}

Worker::~Worker() {
  requestStop();
  join();
}

void Worker::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void Worker::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
}

void Worker::join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Worker::loop() {
  if (onStart_) onStart_();
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
  if (onStop_) onStop_();
}

}  // namespace skipnet
