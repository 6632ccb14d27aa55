// The build-time generator of the embedded format DFAs (run by CMake; docs/design.md).
// Takes: two output paths, BLOB and SOURCE. Gives: BLOB, the DFA of every format regex that
// grammar::format_regex pins (grammar::format_names()), each built exactly as a process builds it
// without a blob (fsm::build_process_wide_dfa, the default budgets) and keyed by the format's name,
// its regex's identity hash and rendering (fsm/prebuilt_dfas.hpp); and SOURCE, the C++ file that
// assembles BLOB into .rodata (`.incbin`) and defines fsm::embedded_prebuilt_dfas() over it. SOURCE
// names BLOB's size and SHA-256, so that a compiler cache never pairs it with another blob. A
// format whose DFA fails to build is left out (a process then builds it, and fails, as it would).
// Linked with the engine's objects and fsm/prebuilt/none.cpp (no blob), never with a blob.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/digest.hpp"
#include "fsm/dfa.hpp"
#include "fsm/prebuilt_dfas.hpp"
#include "grammar/json_schema_strings.hpp"

using namespace tollgate;
namespace fs = std::filesystem;

namespace {
// Writes `path` through a temporary file and a rename: an interrupted run leaves no half file.
bool write_file(const fs::path& path, const std::string& data) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

// `s` as the inside of a C string literal that is also a GNU assembler string (the .incbin path).
std::string quoted(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) throw std::runtime_error("a control character in the path " + s);
    if (c == '\\' || c == '"') {
      out += "\\\\";  // C: a backslash for the assembler, which then escapes the character
      out += c == '"' ? "\\\"" : "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

std::string source_text(const fs::path& blob_path, size_t size, const std::string& sha256) {
  const std::string path = quoted(fs::absolute(blob_path).string());
  std::string s;
  s += "// Generated at build time by fsm/prebuilt/generate_format_dfas.cpp; do not edit.\n";
  s += "// Takes: the blob beside it (" + std::to_string(size) + " bytes, SHA-256 " + sha256 + ").\n";
  s += "// Gives: fsm::embedded_prebuilt_dfas() over it, assembled into .rodata (ELF targets; elsewhere empty).\n";
  s += "#include <cstddef>\n#include <cstdint>\n\n#include \"fsm/prebuilt_dfas.hpp\"\n\n";
  s += "#if defined(__ELF__)\n";
  s += "extern \"C\" {\n";
  s += "__attribute__((visibility(\"hidden\"))) extern const unsigned char tollgate_prebuilt_dfas_begin[];\n";
  s += "__attribute__((visibility(\"hidden\"))) extern const unsigned char tollgate_prebuilt_dfas_end[];\n";
  s += "}\n";
  s += "asm(\".pushsection .rodata.tollgate_prebuilt_dfas,\\\"a\\\"\\n\"\n";
  s += "    \".balign 16\\n\"\n";
  s += "    \".globl tollgate_prebuilt_dfas_begin\\n\"\n";
  s += "    \".hidden tollgate_prebuilt_dfas_begin\\n\"\n";
  s += "    \"tollgate_prebuilt_dfas_begin:\\n\"\n";
  s += "    \".incbin \\\"" + path + "\\\"\\n\"\n";
  s += "    \".globl tollgate_prebuilt_dfas_end\\n\"\n";
  s += "    \".hidden tollgate_prebuilt_dfas_end\\n\"\n";
  s += "    \"tollgate_prebuilt_dfas_end:\\n\"\n";
  s += "    \".popsection\\n\");\n";
  s += "#endif\n\n";
  s += "namespace tollgate::fsm {\n\n";
  s += "namespace {\n";
  s += "[[maybe_unused]] constexpr std::size_t kSize = " + std::to_string(size) + ";\n";
  s += "[[maybe_unused]] constexpr const char* kSha256 = \"" + sha256 + "\";  // what makes this file differ with its blob\n";
  s += "}  // namespace\n\n";
  s += "std::string_view embedded_prebuilt_dfas() {\n";
  s += "#if defined(__ELF__)\n";
  s += "  const auto begin = reinterpret_cast<std::uintptr_t>(tollgate_prebuilt_dfas_begin);\n";
  s += "  const auto end = reinterpret_cast<std::uintptr_t>(tollgate_prebuilt_dfas_end);\n";
  s += "  if (end - begin != kSize) return {};  // not the blob this file was generated with\n";
  s += "  return {reinterpret_cast<const char*>(tollgate_prebuilt_dfas_begin), kSize};\n";
  s += "#else\n";
  s += "  return {};\n";
  s += "#endif\n";
  s += "}\n\n";
  s += "}  // namespace tollgate::fsm\n";
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s BLOB SOURCE\n", argv[0]);
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<fsm::PrebuiltDfa> entries;
    size_t states = 0;
    for (std::string_view name : grammar::format_names()) {
      const grammar::RegexPtr regex = grammar::format_regex(name);
      if (!regex || regex->pinned_name != name) {
        std::fprintf(stderr, "generate_format_dfas: format %.*s is not pinned under its name\n",
                     static_cast<int>(name.size()), name.data());
        return 1;
      }
      try {
        fsm::Dfa dfa = fsm::build_process_wide_dfa(*regex);
        states += dfa.num_states();
        entries.push_back(fsm::prebuilt_entry(name, *regex, std::move(dfa)));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "generate_format_dfas: warning: format %.*s left out: %s\n",
                     static_cast<int>(name.size()), name.data(), e.what());
      }
    }
    const std::string blob = fsm::encode_prebuilt_dfas(entries);
    // Read back: every entry must be found, for its own regex, and equal what was built.
    for (const fsm::PrebuiltDfa& e : entries) {
      const std::optional<fsm::Dfa> back = fsm::find_prebuilt_dfa(blob, *grammar::format_regex(e.name));
      if (!back || back->start() != e.dfa.start() || back->num_classes() != e.dfa.num_classes() ||
          back->byte_classes() != e.dfa.byte_classes() || back->table() != e.dfa.table() ||
          back->finals() != e.dfa.finals()) {
        std::fprintf(stderr, "generate_format_dfas: format %s does not read back from the blob\n", e.name.c_str());
        return 1;
      }
    }
    const fs::path blob_path = argv[1], source_path = argv[2];
    const std::string sha = engine::hex(engine::sha256(blob));
    if (!write_file(blob_path, blob) || !write_file(source_path, source_text(blob_path, blob.size(), sha))) {
      std::fprintf(stderr, "generate_format_dfas: cannot write %s or %s\n", argv[1], argv[2]);
      return 1;
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("format DFAs: %zu formats, %zu states, %zu bytes, %.0f ms\n", entries.size(), states, blob.size(), ms);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generate_format_dfas: %s\n", e.what());
    return 1;
  }
}
