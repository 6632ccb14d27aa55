// RedisStore — the few Redis commands the second-level compiled-grammar cache needs, over one
// hiredis connection (engine/grammar_cache.cpp uses it; docs/serving.md describes the protocol).
// Takes: "redis://host:port" or "host:port" and a timeout. Gives: GET / SET of blobs, a lock
// (SET NX PX with a token; released by a compare-and-delete script), INCR. Connects lazily and
// again after a failure; any failure (unreachable, timeout, error reply) throws RedisError, which
// the cache turns into a local compilation. Thread-safe (one connection under a mutex).
// Without hiredis at build time (TOLLGATE_HAVE_HIREDIS undefined) the constructor throws
// Error(kUnsupported) and supported() is false.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

namespace tollgate::engine {

class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RedisStore {
 public:
  RedisStore(const std::string& url, int timeout_ms);
  ~RedisStore();
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  static bool supported();  // built with hiredis
  std::optional<std::string> get(const std::string& key);
  void set(const std::string& key, const std::string& value);
  // SET key token NX PX ttl_ms: true when this caller now holds the lock.
  bool try_lock(const std::string& key, const std::string& token, int ttl_ms);
  // Deletes key only while it still holds `token` (a lock that expired and was taken over is
  // left to its new holder).
  void unlock(const std::string& key, const std::string& token);
  long long incr(const std::string& key);
  const std::string& address() const { return address_; }  // host:port

 private:
  struct Conn;
  // Runs one command (redisCommand's format), connecting first if needed; the reply (a
  // redisReply*, never an error reply) is the caller's to free. Throws RedisError. mu_ held.
  void* command(const char* format, ...);
  std::mutex mu_;
  std::unique_ptr<Conn> conn_;
  std::string host_, address_;
  int port_ = 6379;
  int timeout_ms_;
};

}  // namespace tollgate::engine
