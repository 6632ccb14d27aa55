// AtomicMemo — an insert-only hash map from 64-bit keys to 32-bit values (UINT32_MAX included)
// whose lookups take no lock. Takes: (key, value) pairs from writers that the caller serialises (one mutex held around
// insert; the memoised computation usually needs it anyway). Gives: find(key) from any number of
// threads, concurrently with an insert, without a lock: open addressing over atomic slots, a
// value stored before its key (release) so a reader that sees the key sees the value. Growing
// publishes a new table through an atomic pointer; the old tables stay allocated until the memo is
// destroyed or clear()ed (their sum is below the live table's size), so a reader still probing one
// is safe. clear() must only run when no reader can be inside find() (the owner guarantees it).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tollgate::fsm {

class AtomicMemo {
 public:
  static constexpr uint64_t kEmpty = UINT64_MAX;  // never a key
  static constexpr uint64_t kMissing = UINT64_MAX;  // find(): not present (values are 32-bit)

  explicit AtomicMemo(size_t initial_capacity = 64) { publish(make_table(initial_capacity)); }
  AtomicMemo(const AtomicMemo&) = delete;
  AtomicMemo& operator=(const AtomicMemo&) = delete;

  // Lock-free; kMissing when absent.
  uint64_t find(uint64_t key) const {
    const Table* t = table_.load(std::memory_order_acquire);
    for (size_t i = hash(key) & t->mask;; i = (i + 1) & t->mask) {
      uint64_t k = t->slots[i].key.load(std::memory_order_acquire);
      if (k == key) return t->slots[i].value.load(std::memory_order_relaxed);
      if (k == kEmpty) return kMissing;
    }
  }
  // Writers only (serialised by the caller). An existing key keeps its value.
  void insert(uint64_t key, uint32_t value) {
    Table* t = table_.load(std::memory_order_relaxed);
    if ((size_ + 1) * 4 > (t->mask + 1) * 3) {  // load factor 3/4: grow ×2
      auto bigger = make_table((t->mask + 1) * 2);
      for (size_t i = 0; i <= t->mask; ++i) {
        uint64_t k = t->slots[i].key.load(std::memory_order_relaxed);
        if (k != kEmpty) put(*bigger, k, t->slots[i].value.load(std::memory_order_relaxed));
      }
      publish(std::move(bigger));
      t = table_.load(std::memory_order_relaxed);
    }
    if (put(*t, key, value)) ++size_;
  }
  // Writers only, and only when no reader is inside find().
  void clear(size_t capacity = 64) {
    tables_.clear();
    size_ = 0;
    publish(make_table(capacity));
  }
  void reserve(size_t n) {  // writers only
    Table* t = table_.load(std::memory_order_relaxed);
    if (n * 4 <= (t->mask + 1) * 3) return;
    size_t cap = t->mask + 1;
    while (n * 4 > cap * 3) cap *= 2;
    auto bigger = make_table(cap);
    for (size_t i = 0; i <= t->mask; ++i) {
      uint64_t k = t->slots[i].key.load(std::memory_order_relaxed);
      if (k != kEmpty) put(*bigger, k, t->slots[i].value.load(std::memory_order_relaxed));
    }
    publish(std::move(bigger));
  }
  size_t size() const { return size_; }  // writers only
  // Bytes of every table held (the live one and those kept for readers).
  size_t memory_bytes() const {  // writers only
    size_t b = 0;
    for (auto& t : tables_) b += (t->mask + 1) * sizeof(Slot) + sizeof(Table);
    return b;
  }

 private:
  struct Slot {
    std::atomic<uint64_t> key{kEmpty};
    std::atomic<uint64_t> value{kMissing};
  };
  struct Table {
    size_t mask;
    std::unique_ptr<Slot[]> slots;
  };
  static size_t hash(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return static_cast<size_t>(x);
  }
  static std::unique_ptr<Table> make_table(size_t capacity) {
    size_t cap = 16;
    while (cap < capacity) cap *= 2;
    auto t = std::make_unique<Table>();
    t->mask = cap - 1;
    t->slots = std::make_unique<Slot[]>(cap);
    return t;
  }
  static bool put(Table& t, uint64_t key, uint32_t value) {
    for (size_t i = hash(key) & t.mask;; i = (i + 1) & t.mask) {
      uint64_t k = t.slots[i].key.load(std::memory_order_relaxed);
      if (k == key) return false;
      if (k == kEmpty) {
        t.slots[i].value.store(value, std::memory_order_relaxed);
        t.slots[i].key.store(key, std::memory_order_release);
        return true;
      }
    }
  }
  void publish(std::unique_ptr<Table> t) {
    table_.store(t.get(), std::memory_order_release);
    tables_.push_back(std::move(t));
  }

  std::atomic<Table*> table_{nullptr};
  std::vector<std::unique_ptr<Table>> tables_;  // the live table last
  size_t size_ = 0;
};

}  // namespace tollgate::fsm
