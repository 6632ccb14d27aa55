// SHA-256 through OpenSSL's EVP interface (see digest.hpp).
#include "engine/digest.hpp"

#include <openssl/evp.h>

#include "tollgate/error.hpp"

namespace tollgate::engine {

namespace {
EVP_MD_CTX* as_ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }
[[noreturn]] void failed(const char* what) { throw Error(ErrorKind::kInternal, std::string("SHA-256: ") + what + " failed"); }
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(as_ctx(ctx_), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(as_ctx(ctx_));
    failed("EVP_DigestInit_ex");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(as_ctx(ctx_)); }

Sha256& Sha256::update(const void* data, size_t n) {
  if (n > 0 && EVP_DigestUpdate(as_ctx(ctx_), data, n) != 1) failed("EVP_DigestUpdate");
  return *this;
}

Digest Sha256::digest() {
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(as_ctx(ctx_), d.data(), &len) != 1 || len != d.size()) failed("EVP_DigestFinal_ex");
  return d;
}

Digest sha256(std::string_view data) { return Sha256().update(data).digest(); }

std::string hex(const Digest& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * d.size(), '0');
  for (size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = kDigits[d[i] >> 4];
    s[2 * i + 1] = kDigits[d[i] & 15];
  }
  return s;
}

}  // namespace tollgate::engine
