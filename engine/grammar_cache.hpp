// GrammarCache — the compiled grammars of a Compiler (and its copies), by key.
// Takes: a key (grammar text, kind, options, tokenizer fingerprint: Compiler::compile builds it)
// and a function that produces the grammar. Gives: the cached grammar (a hit moves it to the
// front of the LRU list), or the result of one run of the function shared by every concurrent
// caller of the key (single flight). The function runs on a thread of its own under a
// fsm::CancelScope that fires once every caller waiting on it has cancelled; a caller whose
// CancelToken is cancelled returns at once with Error(kCancelled). Bounded by max_bytes (each
// grammar's memory_bytes() when inserted; least recently used evicted first; 0: nothing kept).
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tollgate/compiler.hpp"

namespace tollgate::engine {

class GrammarCache : public std::enable_shared_from_this<GrammarCache> {
 public:
  explicit GrammarCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Null on a miss (counts nothing).
  CompiledGrammarPtr find(const std::string& key);
  CompiledGrammarPtr get(const std::string& key, const CancelToken& cancel, std::function<CompiledGrammarPtr()> produce);
  GrammarCacheStats stats() const;  // the cache's own counters (hits, misses, joined, cancelled, ...)

 private:
  struct Flight;
  void insert_locked(const std::string& key, const CompiledGrammarPtr& g);

  const size_t max_bytes_;
  mutable std::mutex mu_;
  struct Entry {
    CompiledGrammarPtr grammar;
    size_t bytes;
    std::list<std::string>::iterator lru;
  };
  std::list<std::string> lru_;  // most recent first
  std::unordered_map<std::string, Entry> map_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  size_t bytes_ = 0;
  GrammarCacheStats stats_;
};

}  // namespace tollgate::engine
