// No embedded DFAs: what the build-time generator links (it is what makes them), and the library
// when -DTOLLGATE_PREBUILT_FORMAT_DFAS=OFF or cross-compiling. Every pinned format is then built on
// first use, as without a blob.
// Takes: nothing. Gives: fsm::embedded_prebuilt_dfas() returning an empty blob.
#include "fsm/prebuilt_dfas.hpp"

namespace tollgate::fsm {

std::string_view embedded_prebuilt_dfas() { return {}; }

}  // namespace tollgate::fsm
