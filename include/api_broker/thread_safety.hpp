#pragma once
// Clang's thread-safety analysis (-Wthread-safety): attributes that say which mutex guards
// which state, checked at compile time; empty on other compilers. libstdc++'s std::mutex
// carries no annotations, so shared state is guarded by api_broker::Mutex and locked with
// api_broker::MutexLock; both work with std::condition_variable_any.

#include <mutex>

#if defined(__clang__)
#define API_BROKER_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define API_BROKER_THREAD_ANNOTATION(x)
#endif

#define API_BROKER_CAPABILITY(x) API_BROKER_THREAD_ANNOTATION(capability(x))
#define API_BROKER_SCOPED_CAPABILITY API_BROKER_THREAD_ANNOTATION(scoped_lockable)
#define API_BROKER_GUARDED_BY(x) API_BROKER_THREAD_ANNOTATION(guarded_by(x))
#define API_BROKER_PT_GUARDED_BY(x) API_BROKER_THREAD_ANNOTATION(pt_guarded_by(x))
#define API_BROKER_REQUIRES(...) API_BROKER_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define API_BROKER_ACQUIRE(...) API_BROKER_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define API_BROKER_RELEASE(...) API_BROKER_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define API_BROKER_TRY_ACQUIRE(...) \
  API_BROKER_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define API_BROKER_EXCLUDES(...) API_BROKER_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define API_BROKER_RETURN_CAPABILITY(x) API_BROKER_THREAD_ANNOTATION(lock_returned(x))
#define API_BROKER_NO_THREAD_SAFETY_ANALYSIS API_BROKER_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace api_broker {

// A std::mutex the analysis knows about. Meets BasicLockable (lock/unlock), so that
// std::condition_variable_any can wait on a MutexLock's mutex.
class API_BROKER_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() API_BROKER_ACQUIRE() { mutex_.lock(); }
  void unlock() API_BROKER_RELEASE() { mutex_.unlock(); }
  bool try_lock() API_BROKER_TRY_ACQUIRE(true) { return mutex_.try_lock(); }

 private:
  std::mutex mutex_;
};

// Holds `mutex` for its scope. For a condition wait, pass the mutex itself
// (cv.wait(lock.mutex(), ...) with std::condition_variable_any): the analysis treats the
// mutex as held throughout, which it is whenever the waiting code runs.
class API_BROKER_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) API_BROKER_ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() API_BROKER_RELEASE() { mutex_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  Mutex& mutex() API_BROKER_RETURN_CAPABILITY(mutex_) { return mutex_; }

 private:
  Mutex& mutex_;
};

}  // namespace api_broker
