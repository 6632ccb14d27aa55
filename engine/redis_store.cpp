// RedisStore over hiredis (see redis_store.hpp); compiled out without hiredis.
#include "engine/redis_store.hpp"

#include <sys/time.h>

#include <cstdarg>
#include <cstdlib>

#include "tollgate/error.hpp"

#ifdef TOLLGATE_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

namespace tollgate::engine {

#ifdef TOLLGATE_HAVE_HIREDIS

struct RedisStore::Conn {
  redisContext* ctx = nullptr;
  ~Conn() {
    if (ctx) redisFree(ctx);
  }
};

namespace {
timeval to_timeval(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
}  // namespace

bool RedisStore::supported() { return true; }

void* RedisStore::command(const char* format, ...) {
  if (!conn_) {
    auto c = std::make_unique<Conn>();
    c->ctx = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(timeout_ms_));
    if (!c->ctx || c->ctx->err)
      throw RedisError("cannot connect to Redis at " + address_ + ": " + (c->ctx ? c->ctx->errstr : "out of memory"));
    redisSetTimeout(c->ctx, to_timeval(timeout_ms_ * 20));
    conn_ = std::move(c);
  }
  va_list ap;
  va_start(ap, format);
  Reply r(static_cast<redisReply*>(redisvCommand(conn_->ctx, format, ap)));
  va_end(ap);
  if (!r) {
    std::string err = conn_->ctx->errstr;
    conn_.reset();  // reconnect next time
    throw RedisError("Redis at " + address_ + ": " + err);
  }
  if (r->type == REDIS_REPLY_ERROR) throw RedisError("Redis at " + address_ + " replied: " + std::string(r->str, r->len));
  return r.release();
}

std::optional<std::string> RedisStore::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Reply r(static_cast<redisReply*>(command("GET %b", key.data(), key.size())));
  if (r->type == REDIS_REPLY_NIL) return std::nullopt;
  if (r->type != REDIS_REPLY_STRING) throw RedisError("Redis at " + address_ + ": GET gave no string");
  return std::string(r->str, r->len);
}

void RedisStore::set(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  Reply r(static_cast<redisReply*>(command("SET %b %b", key.data(), key.size(), value.data(), value.size())));
}

bool RedisStore::try_lock(const std::string& key, const std::string& token, int ttl_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string ttl = std::to_string(ttl_ms);
  Reply r(static_cast<redisReply*>(command("SET %b %b NX PX %s", key.data(), key.size(), token.data(), token.size(), ttl.c_str())));
  return r->type == REDIS_REPLY_STATUS;  // "OK"; nil when the key exists
}

void RedisStore::unlock(const std::string& key, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  static const char* kScript =
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
  Reply r(static_cast<redisReply*>(command("EVAL %s 1 %b %b", kScript, key.data(), key.size(), token.data(), token.size())));
}

long long RedisStore::incr(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Reply r(static_cast<redisReply*>(command("INCR %b", key.data(), key.size())));
  return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}


#else  // no hiredis

struct RedisStore::Conn {};
bool RedisStore::supported() { return false; }
void* RedisStore::command(const char*, ...) { return nullptr; }
std::optional<std::string> RedisStore::get(const std::string&) { return std::nullopt; }
void RedisStore::set(const std::string&, const std::string&) {}
bool RedisStore::try_lock(const std::string&, const std::string&, int) { return false; }
void RedisStore::unlock(const std::string&, const std::string&) {}
long long RedisStore::incr(const std::string&) { return 0; }

#endif

RedisStore::RedisStore(const std::string& url, int timeout_ms) : timeout_ms_(timeout_ms > 0 ? timeout_ms : 500) {
  if (!supported())
    throw Error(ErrorKind::kUnsupported,
                "this tollgate was built without hiredis (libhiredis-dev): the Redis cache is compiled out");
  std::string rest = url;
  if (rest.rfind("redis://", 0) == 0) rest = rest.substr(8);
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  size_t colon = rest.rfind(':');
  host_ = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) {
    std::string p = rest.substr(colon + 1);
    char* end = nullptr;
    long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v <= 0 || v > 65535)
      throw Error(ErrorKind::kInvalidArgument, "redis_url '" + url + "': bad port '" + p + "'");
    port_ = static_cast<int>(v);
  }
  if (host_.empty()) throw Error(ErrorKind::kInvalidArgument, "redis_url '" + url + "' names no host");
  address_ = host_ + ":" + std::to_string(port_);
}

RedisStore::~RedisStore() = default;

}  // namespace tollgate::engine
