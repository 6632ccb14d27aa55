// The compiled-grammar cache (grammar_cache.hpp) and the Compiler entry points that go through
// it: Compiler::compile, compile_async, compile_regex / compile_grammar / compile_json_schema /
// compile_tool_calls (tool_calls_request, tool_calls_key_text), cache_key, cache_stats; with CompileOptions::redis_url, the second level in Redis
// (redis_store.hpp; the protocol is in docs/serving.md).
// Takes: grammar requests. Gives: compiled grammars, compiled once per key per process (and per
// fleet with Redis), each on a 64 MiB stack: the caller's thread switched to one, or a pool thread
// when the caller holds a CancelToken.
#include "engine/grammar_cache.hpp"

#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <thread>

#include "engine/compiler_cache.hpp"
#include "engine/grammar_blob.hpp"
#include "engine/redis_store.hpp"
#include "fsm/budget.hpp"
#include "tollgate/tool_calls.hpp"
#include "engine/digest.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <system_error>
#include <utility>

namespace tollgate::engine {
namespace {
constexpr size_t kCompileStackBytes = size_t{64} << 20;

// The threads the compiles a caller may cancel run on (the others run on CompileStack below), each
// with a stack of kCompileStackBytes (std::thread cannot set one), kept between compiles: creating
// such a thread costs some 130 µs on the VMs we measure on, a tenth of a median schema's compile.
// A thread waits kIdle for the next job, then exits. The pool is never destroyed (its threads may
// outlive static destruction); a forked child starts with no threads and a fresh lock
// (pthread_atfork).
class CompileThreads {
 public:
  static CompileThreads& get() {
    static CompileThreads* pool = [] {
      auto* p = new CompileThreads;
      pthread_atfork(nullptr, nullptr, [] { get().after_fork_in_child(); });
      return p;
    }();
    return *pool;
  }

  // Runs f on a pool thread. Throws std::system_error (as std::thread does) when no thread is
  // idle and none can be created; f is then not run.
  void run(std::function<void()> f) {
    std::unique_lock<std::mutex> lock(*mu_);
    if (idle_ + starting_ <= jobs_->size()) {  // every thread has a job waiting already: one more
      ++starting_;
      lock.unlock();
      start_thread();
      lock.lock();
    }
    jobs_->push_back(std::move(f));
    cv_->notify_one();
  }

 private:
  static constexpr auto kIdle = std::chrono::seconds(30);

  void start_thread() {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kCompileStackBytes);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    const int rc = pthread_create(
        &t, &attr,
        [](void* p) -> void* {
          static_cast<CompileThreads*>(p)->loop();
          return nullptr;
        },
        this);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      std::lock_guard<std::mutex> lock(*mu_);
      --starting_;
      throw std::system_error(rc, std::generic_category(), "cannot start a compile thread");
    }
  }

  void loop() {
    // The allocator gives a new thread an arena of its own, set up (and its first pages faulted
    // in) at the thread's first allocation: here, before it takes a job, rather than in a compile.
    void* volatile warm = std::malloc(64);
    std::free(warm);
    bool starting = true;
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(*mu_);
        // From starting to idle under one lock: run() always sees this thread in one count or the other.
        if (starting) --starting_;
        starting = false;
        ++idle_;
        while (jobs_->empty()) {
          if (cv_->wait_for(lock, kIdle) == std::cv_status::timeout && jobs_->empty()) {
            --idle_;
            return;
          }
        }
        --idle_;
        job = std::move(jobs_->front());
        jobs_->pop_front();
      }
      job();
    }
  }

  // In the child of fork(): only the forking thread exists. The parent's lock may have been held
  // by another thread at the fork and its queue belongs to the parent's threads: both are left
  // behind (leaked, never touched again) for new ones.
  void after_fork_in_child() {
    mu_ = new std::mutex;
    cv_ = new std::condition_variable;
    jobs_ = new std::deque<std::function<void()>>;
    idle_ = 0;
    starting_ = 0;
  }

  std::mutex* mu_ = new std::mutex;
  std::condition_variable* cv_ = new std::condition_variable;
  std::deque<std::function<void()>>* jobs_ = new std::deque<std::function<void()>>;
  size_t idle_ = 0;      // threads waiting in loop() (under *mu_)
  size_t starting_ = 0;  // threads created that have not reached loop() yet (under *mu_)
};

// A compile that nobody else can cancel runs on the thread that asked for it, on a stack of
// kCompileStackBytes switched to for the compile (ucontext): handing it to a pool thread and
// waiting for the result cost two wake-ups of another thread, and on the VMs we measure on a
// wake-up of an idle vCPU took from 0.1 to 4 ms (a fresh process's median TTFM, session 29). One
// stack per thread, mapped on first use (pages touched only as used, a guard page below it).
// Address and thread sanitizers do not follow a switched stack unannotated: their builds keep the
// pool thread.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TOLLGATE_COMPILE_STACK_SWITCH 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TOLLGATE_COMPILE_STACK_SWITCH 0
#endif
#endif
#ifndef TOLLGATE_COMPILE_STACK_SWITCH
#define TOLLGATE_COMPILE_STACK_SWITCH 1
#endif

#if TOLLGATE_COMPILE_STACK_SWITCH
class CompileStack {
 public:
  // Runs f to its end on this thread's compile stack (directly when already on it). False when
  // the stack cannot be had (no memory for the mapping): f is then not run. Exceptions f throws
  // come back to the caller.
  static bool run(const std::function<void()>& f) {
    CompileStack& self = mine();
    if (self.running_) {
      f();
      return true;
    }
    if (!self.base_ && !self.map()) return false;
    ucontext_t callee;
    if (getcontext(&callee) != 0) return false;
    callee.uc_stack.ss_sp = static_cast<char*>(self.base_) + kGuard;
    callee.uc_stack.ss_size = kCompileStackBytes;
    callee.uc_link = &self.caller_;
    self.job_ = &f;
    self.error_ = nullptr;
    makecontext(&callee, &CompileStack::entry, 0);
    self.running_ = true;
    const int rc = swapcontext(&self.caller_, &callee);
    self.running_ = false;
    self.job_ = nullptr;
    if (rc != 0) return false;
    if (self.error_) std::rethrow_exception(std::exchange(self.error_, nullptr));
    return true;
  }

 private:
  static constexpr size_t kGuard = 4096;
  static CompileStack& mine() {
    thread_local CompileStack stack;
    return stack;
  }
  // On the compile stack: the job, with nothing thrown past this frame (unwinding cannot cross
  // the switch); returns to the caller through uc_link.
  static void entry() {
    CompileStack& self = mine();
    try {
      (*self.job_)();
    } catch (...) {
      self.error_ = std::current_exception();
    }
  }
  bool map() {
    void* p = mmap(nullptr, kCompileStackBytes + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return false;
    if (mprotect(p, kGuard, PROT_NONE) != 0) {
      munmap(p, kCompileStackBytes + kGuard);
      return false;
    }
    base_ = p;
    return true;
  }
  CompileStack() = default;
  ~CompileStack() {
    if (base_) munmap(base_, kCompileStackBytes + kGuard);
  }
  void* base_ = nullptr;
  bool running_ = false;
  ucontext_t caller_{};
  const std::function<void()>* job_ = nullptr;
  std::exception_ptr error_;
};
#else
struct CompileStack {
  static bool run(const std::function<void()>&) { return false; }  // the pool thread, then
};
#endif
}  // namespace
}  // namespace tollgate::engine

namespace tollgate::engine {

struct GrammarCache::Flight {
  Key key;  // what flights_ names it by
  std::promise<CompiledGrammarPtr> promise;
  std::shared_future<CompiledGrammarPtr> result = promise.get_future().share();
  int waiters = 0;  // callers still waiting (guarded by GrammarCache::mu_)
  std::atomic<bool> abandoned{false};  // every caller cancelled: the compilation stops
};

CompiledGrammarPtr GrammarCache::find(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  remeasure_locked(it->second);
  ++stats_.hits;
  return it->second.grammar;
}

CompiledGrammarPtr GrammarCache::get(std::string key_text, const CancelToken* cancel,
                                     std::function<CompiledGrammarPtr()> produce) {
  const Key owned = std::make_shared<const std::string>(std::move(key_text));
  const std::string_view key = *owned;  // the flight keeps `owned` while flights_ names it
  std::shared_ptr<Flight> flight;
  bool run_here = false;
  std::function<void()> here;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = map_.find(key); it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      remeasure_locked(it->second);
      ++stats_.hits;
      return it->second.grammar;
    }
    ++stats_.misses;
    if (auto it = flights_.find(key); it != flights_.end()) {
      flight = it->second;
      ++stats_.joined;
    } else {
      flight = std::make_shared<Flight>();
      flight->key = owned;
      flights_.emplace(key, flight);
      // The compile runs on a large stack (reserved, touched only as used): the front-ends recurse
      // once per nesting level up to their limits (max_grammar_nesting, a JSON Schema's $ref
      // chains), and sanitizer builds have frames several times larger than a release build's.
      // Uncancellable, on this thread's compile stack (CompileStack); else, or without one, on
      // a pool thread while this one waits for the result or the cancel.
      run_here = cancel == nullptr;
      std::function<void()> job = [self = shared_from_this(), flight, produce = std::move(produce), pooled = !run_here] {
        CompiledGrammarPtr g;
        std::exception_ptr error;
        try {
          fsm::CompileBudget stop;  // the compile call adds its own deadline and flag
          stop.abandoned = &flight->abandoned;
          fsm::BudgetScope scope(&stop);
          g = produce();
        } catch (...) {
          error = std::current_exception();
        }
        // Evicted grammars are freed after the waiters have their result (freeing a large one is
        // a good part of a small schema's compile): on the pool thread that compiled, or handed to
        // one when the compile ran on the caller's thread.
        std::vector<CompiledGrammarPtr> evicted;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          auto it = self->flights_.find(*flight->key);
          if (it != self->flights_.end() && it->second == flight) self->flights_.erase(it);
          if (g) self->insert_locked(flight->key, g, evicted);
        }
        if (g) flight->promise.set_value(std::move(g));
        else flight->promise.set_exception(error);
        if (!pooled && !evicted.empty()) {
          // Not on the caller's time: the pool frees them (here when no thread can be had).
          try {
            CompileThreads::get().run([e = std::move(evicted)] {});
          } catch (const std::system_error&) {
          }
        }
      };
      if (!run_here) CompileThreads::get().run(std::move(job));
      else here = std::move(job);
    }
    ++flight->waiters;
  }
  // The job sets the flight's result whatever happens in it; the stack is only the place it runs.
  if (run_here && !CompileStack::run(here)) CompileThreads::get().run(std::move(here));
  while (flight->result.wait_for(std::chrono::milliseconds(2)) != std::future_status::ready) {
    if (cancel == nullptr || !cancel->cancelled()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.cancelled;
    if (--flight->waiters == 0) {
      flight->abandoned = true;
      auto it = flights_.find(key);
      if (it != flights_.end() && it->second == flight) flights_.erase(it);  // a new request starts afresh
    }
    throw Error(ErrorKind::kCancelled, "compilation cancelled");
  }
  return flight->result.get();
}

void GrammarCache::remeasure_locked(Entry& e) {
  const size_t now = e.grammar->memory_bytes() + e.key_bytes;
  bytes_ = bytes_ - e.bytes + now;
  e.bytes = now;
}

void GrammarCache::insert_locked(const Key& key, const CompiledGrammarPtr& g,
                                 std::vector<CompiledGrammarPtr>& evicted) {
  if (map_.count(*key)) return;
  const size_t bytes = g->memory_bytes() + key->size();
  if (bytes > max_bytes_) return;  // larger than the whole cache (or the cache is off)
  // A grammar grows after it is inserted (lazy automata and index entries, its matchers' caches:
  // a JSON Schema's can reach many times its size at insertion), so the sizes kept are re-read
  // before evicting: the kRemeasure most recently used entries (the ones in use), and as many more
  // from a sweep that goes round the whole list, oldest first, across inserts. Measuring is a few
  // atomic loads and short locks per grammar, but a cache of small grammars holds thousands: all
  // of them at every insert would put a cost proportional to the cache on every compile.
  constexpr size_t kRemeasure = 8;
  size_t k = 0;
  for (auto it = lru_.begin(); it != lru_.end() && k < kRemeasure; ++it, ++k) remeasure_locked(map_.find(**it)->second);
  for (k = 0; k < kRemeasure && k < map_.size(); ++k) {
    if (sweep_ == lru_.begin()) sweep_ = lru_.end();
    --sweep_;
    remeasure_locked(map_.find(**sweep_)->second);
  }
  while (bytes_ + bytes > max_bytes_ && !lru_.empty()) {
    if (sweep_ == std::prev(lru_.end())) sweep_ = lru_.end();
    auto it = map_.find(*lru_.back());
    bytes_ -= it->second.bytes;
    evicted.push_back(std::move(it->second.grammar));
    map_.erase(it);  // before the key it views goes with its lru_ node
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(key);
  map_.emplace(std::string_view(*key), Entry{g, bytes, key->size(), lru_.begin()});
  bytes_ += bytes;
}

GrammarCacheStats GrammarCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  GrammarCacheStats s = stats_;
  s.entries = map_.size();
  s.bytes = bytes_;
  s.max_bytes = max_bytes_;
  return s;
}

namespace {

// What identifies a compiled grammar: the tokenizer, the request's kind and the options that
// change the result, the source name (warnings carry it), then the text (threads and cache
// budgets do not change the result).
std::string key_material(const GrammarRequest& r, const CompileOptions& o, const std::string& fingerprint) {
  std::string k = fingerprint;
  auto add = [&k](const auto&... parts) { ((k += std::to_string(parts), k += ','), ...); };
  auto add_schema_options = [&](const JsonSchemaOptions& s) {
    add(o.eager_index, static_cast<int>(s.whitespace), s.max_whitespace, s.indent, static_cast<int>(s.property_order),
        s.lenient, s.item_separator.size(), s.key_separator.size());
    k += s.item_separator + s.key_separator;
  };
  // eager_automata_states: when a lexeme over the DFA budgets is an error (the compile, or a later
  // step). Not eager_automata_ms: a lexeme over them met in its time is left to the step that needs
  // it, as when built lazily, so it changes when automata are built, not the result.
  add(static_cast<int>(r.kind), o.max_dfa_states, o.max_dfa_memory, o.max_grammar_nesting, o.max_earley_items,
      o.eager_automata_states);
  switch (r.kind) {
    case GrammarKind::kRegex: add(o.dot_all); break;
    case GrammarKind::kGrammar:
      k += r.format + ',';
      add_schema_options(o.json_schema);  // CompileOptions::json_schema: how Lark's %json schemas compile
      break;
    case GrammarKind::kJsonSchema: add_schema_options(r.schema); break;
    case GrammarKind::kToolCalls:
      if (r.tool_calls) add_schema_options(r.tool_calls->json);
      break;
  }
  k += r.source_name;  // it names the file in warnings' positions
  k += '\n';
  if (r.kind == GrammarKind::kToolCalls) k += r.tool_calls ? tool_calls_key_text(*r.tool_calls) : std::string();
  else k += r.text;
  return k;
}

// Logs a Redis failure (at most one line every 10 s per process).
void log_redis_failure(const std::string& what) {
  static std::mutex mu;
  static std::chrono::steady_clock::time_point last{};
  std::lock_guard<std::mutex> lock(mu);
  auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{} && now - last < std::chrono::seconds(10)) return;
  last = now;
  std::fprintf(stderr, "tollgate: %s; compiling locally\n", what.c_str());
}

std::string lock_token() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd());
}

}  // namespace

}  // namespace tollgate::engine

namespace tollgate {

std::string Compiler::cache_key(const GrammarRequest& request) const {
  std::string m = engine::key_material(request, options_, tokenizer_->fingerprint());
  return "tollgate:cg:v" + std::to_string(engine::kBlobVersion) + ":" + tokenizer_->fingerprint() + ":" +
         engine::hex(engine::sha256(m));
}

CompiledGrammarPtr Compiler::compile_now(const GrammarRequest& r) const {
  switch (r.kind) {
    case GrammarKind::kRegex: return compile_regex_now(r.text);
    case GrammarKind::kGrammar: return compile_grammar_now(r.text, r.format, r.source_name);
    case GrammarKind::kJsonSchema: return compile_json_schema_now(r.text, r.schema, r.source_name);
    case GrammarKind::kToolCalls:
      if (!r.tool_calls) throw Error(ErrorKind::kInvalidArgument, "a tool-calls request without a spec (tool_calls_request)");
      return compile_tool_calls_now(*r.tool_calls, r.source_name);
  }
  throw Error(ErrorKind::kInvalidArgument, "unknown grammar kind");
}

CompiledGrammarPtr Compiler::compile_shared(const GrammarRequest& request) const {
  Cache& c = *cache_;
  auto compile_counted = [&] {
    CompiledGrammarPtr g = compile_now(request);
    ++c.compiles;
    return g;
  };
  if (!c.redis) return compile_counted();
  engine::RedisStore& redis = *c.redis;
  const std::string key = cache_key(request);
  CompiledGrammarPtr g;
  try {
    const std::string lock_key = key + ":lock", token = engine::lock_token();
    bool waited = false, bad_blob = false;
    for (;;) {
      fsm::check_budget_now();
      if (!bad_blob)
        if (std::optional<std::string> blob = redis.get(key)) {
          try {
            g = engine::load_grammar(*blob, tokenizer_, c.index, &options_);
            ++c.redis_hits;
            return g;
          } catch (const Error& e) {
            std::fprintf(stderr, "tollgate: Redis entry %s refused (%s); compiling it again\n", key.c_str(),
                         e.message().c_str());
            bad_blob = true;
          }
        }
      if (bad_blob || redis.try_lock(lock_key, token, options_.redis_lock_ms)) {
        // The holder before us may have published and unlocked between our GET and our lock.
        if (!bad_blob)
          if (std::optional<std::string> blob = redis.get(key)) {
            redis.unlock(lock_key, token);
            continue;
          }
        try {
          g = compile_counted();
        } catch (...) {
          if (!bad_blob) redis.unlock(lock_key, token);
          throw;
        }
        redis.incr("tollgate:cg:compiles");
        redis.set(key, g->serialize());
        ++c.redis_published;
        if (!bad_blob) redis.unlock(lock_key, token);
        return g;
      }
      // Another process compiles it: poll for its blob (or for its lock to go away).
      if (!waited) ++c.redis_waits;
      waited = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max(1, options_.redis_poll_ms)));
    }
  } catch (const engine::RedisError& e) {
    ++c.redis_errors;
    engine::log_redis_failure(e.what());
    return g ? g : compile_counted();
  }
}

CompiledGrammarPtr Compiler::compile(const GrammarRequest& request, const CancelToken& cancel) const {
  return compile_held(std::make_shared<const GrammarRequest>(request), &cancel);
}

CompiledGrammarPtr Compiler::compile_held(std::shared_ptr<const GrammarRequest> request, const CancelToken* cancel) const {
  std::string material = engine::key_material(*request, options_, tokenizer_->fingerprint());
  return cache_->grammars->get(std::move(material), cancel,
                               [self = *this, request = std::move(request)] { return self.compile_shared(*request); });
}

std::shared_future<CompiledGrammarPtr> Compiler::compile_async(GrammarRequest request, CancelToken cancel) const {
  auto promise = std::make_shared<std::promise<CompiledGrammarPtr>>();
  std::shared_future<CompiledGrammarPtr> result = promise->get_future().share();
  if (CompiledGrammarPtr g = cache_->grammars->find(engine::key_material(request, options_, tokenizer_->fingerprint()))) {
    promise->set_value(std::move(g));
    return result;
  }
  std::thread([self = *this, request = std::move(request), cancel, promise] {
    try {
      promise->set_value(self.compile(request, cancel));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  }).detach();
  return result;
}

GrammarCacheStats Compiler::cache_stats() const {
  GrammarCacheStats s = cache_->grammars->stats();
  s.compiles = cache_->compiles;
  s.redis_hits = cache_->redis_hits;
  s.redis_published = cache_->redis_published;
  s.redis_waits = cache_->redis_waits;
  s.redis_errors = cache_->redis_errors;
  return s;
}

CompiledGrammarPtr Compiler::compile_regex(std::string_view pattern) const {
  auto r = std::make_shared<GrammarRequest>();
  r->kind = GrammarKind::kRegex;
  r->text = pattern;
  return compile_held(std::move(r), nullptr);
}

CompiledGrammarPtr Compiler::compile_grammar(std::string_view text, std::string_view format,
                                             std::string_view source_name) const {
  auto r = std::make_shared<GrammarRequest>();
  r->kind = GrammarKind::kGrammar;
  r->text = text;
  r->format = format;
  r->source_name = source_name;
  return compile_held(std::move(r), nullptr);
}

CompiledGrammarPtr Compiler::compile_json_schema(std::string_view schema_json, const JsonSchemaOptions& options,
                                                 std::string_view source_name) const {
  auto r = std::make_shared<GrammarRequest>();
  r->kind = GrammarKind::kJsonSchema;
  r->text = schema_json;
  r->schema = options;
  r->source_name = source_name;
  return compile_held(std::move(r), nullptr);
}

GrammarRequest tool_calls_request(const ToolCallSpec& spec, std::string_view source_name) {
  GrammarRequest r;
  r.kind = GrammarKind::kToolCalls;
  r.tool_calls = std::make_shared<const ToolCallSpec>(spec);
  r.source_name = source_name;
  return r;
}

std::string tool_calls_key_text(const ToolCallSpec& spec) {
  std::string k;
  auto put = [&k](std::string_view s) {
    k += std::to_string(s.size());
    k += ':';
    k += s;
  };
  k += "tags " + std::to_string(spec.tags.size()) + '\n';
  for (const ToolCallTag& t : spec.tags) {
    put(t.begin);
    put(t.schema);
    put(t.end);
  }
  k += "triggers " + std::to_string(spec.triggers.size()) + '\n';
  for (const std::string& t : spec.triggers) put(t);
  k += spec.at_most_one ? "at_most_one 1\n" : "at_most_one 0\n";
  k += spec.required ? "required 1\n" : "required 0\n";
  return k;
}

CompiledGrammarPtr Compiler::compile_tool_calls(const ToolCallSpec& spec, std::string_view source_name) const {
  return compile(tool_calls_request(spec, source_name));
}

}  // namespace tollgate
