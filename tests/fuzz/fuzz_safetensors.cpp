// libFuzzer target: the safetensors reader of the RetNet engine. Takes: arbitrary bytes as a
// .safetensors file. Gives: a finding when parsing or reading any tensor does anything but succeed
// or throw tollgate::Error.
#include "engine/retnet/safetensors.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tollgate;
  try {
    auto st = engine::SafeTensors::parse(std::string(fuzz::as_text(data, size)), "fuzz");
    for (auto& [name, info] : st.tensors()) {
      try {
        if (info.dtype == "F32") (void)st.f32(name);
        else (void)st.i32(name);
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
