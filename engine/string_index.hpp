// StringIndex — a flat open-addressing map from byte strings (owned elsewhere) to int32 ids.
// Takes: string_views that outlive the index. Gives: insert (first one wins) and find in one probe
// sequence over a contiguous slot array — cheaper in cache misses than std::unordered_map's nodes,
// which matters when hundreds of thousands of merges are resolved at load time.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace tollgate::engine {

class StringIndex {
 public:
  StringIndex() = default;
  explicit StringIndex(size_t expected) { reserve(expected); }

  void reserve(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    if (cap <= slots_.size()) return;
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    size_ = 0;
    for (const Slot& s : old)
      if (s.id >= 0) insert_hashed(s.key, s.id, s.hash);
  }

  // Returns false (and keeps the old id) when the key is already present.
  bool insert(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) reserve(size_ + 1 > 8 ? (size_ + 1) * 2 : 16);
    return insert_hashed(key, id, hash(key));
  }

  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.key == key) return s.id;
    }
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string_view key;
    int32_t id = -1;
  };

  static uint64_t hash(std::string_view key) { return std::hash<std::string_view>()(key); }

  bool insert_hashed(std::string_view key, int32_t id, uint64_t h) {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = Slot{h, key, id};
        ++size_;
        return true;
      }
      if (s.hash == h && s.key == key) return false;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tollgate::engine
