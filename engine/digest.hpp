// Digest — SHA-256 (OpenSSL's libcrypto) of what must be identified across processes, machines
// and builds: tokenizer fingerprints, compiled-grammar cache keys, blob checksums. In-memory hash
// tables use fsm/hash.hpp instead (fast, not stable across Boost versions, not collision-resistant).
// Takes: byte strings, fed in pieces. Gives: the 32-byte digest, or its 64-digit lower-case hex.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::engine {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(const void* data, size_t n);
  Sha256& update(std::string_view s) { return update(s.data(), s.size()); }
  Digest digest();  // once; the object is spent afterwards

 private:
  void* ctx_;  // EVP_MD_CTX
};

Digest sha256(std::string_view data);
std::string hex(const Digest& d);

}  // namespace tollgate::engine
