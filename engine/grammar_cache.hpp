// GrammarCache — the compiled grammars of a Compiler (and its copies), by key.
// Takes: a key (grammar text, kind, options, tokenizer fingerprint: Compiler::compile builds it)
// and a function that produces the grammar. Gives: the cached grammar (a hit moves it to the
// front of the LRU list), or the result of one run of the function shared by every concurrent
// caller of the key (single flight). The function runs on a thread of its own under a
// fsm::CancelScope that fires once every caller waiting on it has cancelled; a caller whose
// CancelToken is cancelled returns at once with Error(kCancelled). Bounded by max_bytes: grammars'
// memory_bytes(), read when inserted and read again as they grow in use (a hit re-reads its grammar;
// an insert re-reads the most recently used and a sweep of the others before it evicts); least
// recently used evicted first; 0: nothing kept.
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <string_view>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tollgate/compiler.hpp"

namespace tollgate::engine {

class GrammarCache : public std::enable_shared_from_this<GrammarCache> {
 public:
  explicit GrammarCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Null on a miss (counts nothing).
  CompiledGrammarPtr find(std::string_view key);
  // The key (a request's text and options: a large schema's is hundreds of KB) is kept once,
  // shared by the tables that name it and the compile's closure: each copy of it was a page
  // fault per 4 KB in a fresh process.
  // `cancel` null: nobody can cancel this compile, which then runs on the calling thread (on a
  // stack switched to for it); else on a pool thread while the caller waits for it or the cancel.
  CompiledGrammarPtr get(std::string key, const CancelToken* cancel, std::function<CompiledGrammarPtr()> produce);
  GrammarCacheStats stats() const;  // the cache's own counters (hits, misses, joined, cancelled, ...)

 private:
  struct Flight;
  struct Entry;
  // Evicted grammars go to `evicted`, to be freed outside the lock.
  using Key = std::shared_ptr<const std::string>;
  void insert_locked(const Key& key, const CompiledGrammarPtr& g, std::vector<CompiledGrammarPtr>& evicted);
  void remeasure_locked(Entry& e);  // the grammar's size now, into e.bytes and bytes_

  const size_t max_bytes_;
  mutable std::mutex mu_;
  struct Entry {
    CompiledGrammarPtr grammar;
    size_t bytes;      // as last measured (grammar and key)
    size_t key_bytes;
    std::list<Key>::iterator lru;
  };
  std::list<Key> lru_;  // most recent first; owns the keys map_ names by view
  // The re-measuring sweep's position in lru_ (it moves towards the front; end(): start again at the back).
  std::list<Key>::iterator sweep_ = lru_.end();
  std::unordered_map<std::string_view, Entry> map_;
  std::unordered_map<std::string_view, std::shared_ptr<Flight>> flights_;  // keys owned by the flights
  size_t bytes_ = 0;
  GrammarCacheStats stats_;
};

}  // namespace tollgate::engine
