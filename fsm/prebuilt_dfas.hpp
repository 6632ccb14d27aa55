// Prebuilt DFAs — the DFAs of pinned regexes (JSON Schema's formats, Regex::pin under the
// format's name) computed at build time and embedded in the library, so that a process reads them
// instead of building them (date-time: 11,000 states, 40–90 ms to build in a fresh process).
// Takes: (encode) named entries, each a regex's identity hash and structure with its DFA; (find)
// a blob and a pinned regex. Gives: the blob (fsm/prebuilt/generate_format_dfas.cpp writes it at
// build time and it is assembled into the library); the DFA stored under the regex's pinned name,
// only when the stored identity hash and structure are exactly the regex's, else nothing.
//
// Blob (little-endian; "varint": LEB128): the 8 bytes "tgdfas2\n", a u32 entry count, then per
// entry a u64 byte length of the rest of the entry and:
// - the name (varint length, bytes) and the regex's grammar::RegexIdentity hash (u64);
// - the regex's structure: its number of nodes, then each node once (a node shared in the regex is
//   written once: date-time is 49,000 nodes as a tree, 3,100 as written), children before their
//   parents, the root last: kind, lazy, min, max, byte_lo, byte_hi, the code point ranges (count,
//   lo/hi pairs), the items (count, indices of earlier nodes), and the automaton of a kAutomaton
//   node (a flag; start, finals, per state its edges lo/hi/to). Compared field by field with the
//   live regex — what RegexIdentity::equal compares — so a stale or mismatched entry is never
//   used; rendering the regex instead (Regex::to_string, 196 KB for date-time) cost 2 ms a load;
// - the DFA: start, number of states, number of byte classes (varints), the 256-byte class map,
//   one byte per state (its finals() value), the byte width W of a state number (1 to 4), then per
//   state its transitions that are not kDead (two in three are): their number (varint), then each one's
//   class (a byte, increasing) and target (W bytes).
// Whatever does not decode exactly so (a truncated blob, a class, child or target out of range,
// bytes left over) is refused, never half read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fsm/dfa.hpp"
#include "grammar/regex_ast.hpp"

namespace tollgate::fsm {

struct PrebuiltDfa {
  std::string name;            // the name the regex is pinned under (Regex::pinned_name)
  uint64_t identity_hash = 0;  // grammar::RegexIdentity::hash of the regex
  std::string structure;       // the regex's nodes as the blob stores them (encode_regex_structure)
  Dfa dfa;
};

// The regex's nodes as the blob stores them (above).
std::string encode_regex_structure(const grammar::Regex& regex);

// The entry of `regex` with its DFA, as the build-time generator stores it.
PrebuiltDfa prebuilt_entry(std::string_view name, const grammar::Regex& regex, Dfa dfa);

std::string encode_prebuilt_dfas(const std::vector<PrebuiltDfa>& entries);

// The DFA stored in `blob` under regex.pinned_name when that entry's identity hash and rendering
// are exactly the regex's; nothing when there is no such entry, it is for another regex (a stale
// or mismatched blob), or the blob does not decode.
std::optional<Dfa> find_prebuilt_dfa(std::string_view blob, const grammar::Regex& regex);

// The names of the entries of `blob`, in order (empty when it does not decode).
std::vector<std::string> prebuilt_dfa_names(std::string_view blob);

// The blob linked into this library: the one generated at build time (assembled into .rodata), or
// empty where there is none (the generator's own link, -DTOLLGATE_PREBUILT_FORMAT_DFAS=OFF, a
// cross-compile, a non-ELF target). Defined outside the engine's objects: by the generated
// source, or by fsm/prebuilt/none.cpp.
std::string_view embedded_prebuilt_dfas();

}  // namespace tollgate::fsm
