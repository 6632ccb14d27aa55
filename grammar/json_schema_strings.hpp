// String constraints of JSON Schema as regexes over code points.
// Takes: an ECMA-262 regular expression (JSON Schema `pattern`, `patternProperties` keys) or a
// `format` name. Gives: a code-point Regex of exactly the strings that satisfy it (a format's
// pinned, under its name; a pattern's kept for the process); the list of format names known. The caller wraps a regex in
// Regex::json_string (JSON escaping) and quotes.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "grammar/regex_ast.hpp"

namespace tollgate::grammar {

// The strings in which `pattern` finds a match (ECMA-262 search semantics: unanchored unless
// anchored; ^ and $ and \b \B anywhere, compiled exactly). Throws tollgate::Error (kParse or
// kUnsupported, the column in the pattern) for what is malformed or cannot be expressed
// (backreferences, lookbehind, lookahead other than right after a leading '^': "^(?=A)R" and
// "^(?!A)R" are compiled as an intersection with A's language or its complement).
// Parsed patterns are kept for the process (the same pattern gives the same Regex) up to
// kMaxPatternCacheBytes of pattern text, then the table starts over; errors are not kept.
// `dialects` (RegexOptions::Dialects): how \d \w \s and their negations read — ECMA's sets (a pattern
// that picks the keys a patternProperties schema applies to), what ECMA-262 and Python's re both
// match (a pattern a string must match: `pattern`, a propertyNames `pattern`), or what either matches
// (one a string must not match, under `not`).
RegexPtr ecma_pattern_regex(std::string_view pattern,
                            RegexOptions::Dialects dialects = RegexOptions::Dialects::kEcma);
inline constexpr size_t kMaxPatternCacheBytes = size_t{1} << 20;
// What the table of parsed patterns holds now: pattern bytes plus 64 per entry.
size_t ecma_pattern_cache_bytes();

// The strings valid for `format` (date-time, date, time, duration, email, hostname, ipv4, ipv6,
// uri, uri-reference, iri, iri-reference, uri-template, uuid, json-pointer,
// relative-json-pointer), each an exact regex of its RFC's grammar (hostname's 253-character
// limit is a Regex::intersect). nullptr when the format is not known or not regular enough to be
// exact ("regex", "idn-hostname", "idn-email"): the caller then treats it as an annotation.
// Each format's regex is made once per process and pinned (Regex::pin) under the format's name.
RegexPtr format_regex(std::string_view format);

// The names format_regex knows (the list above), in a fixed order: what the build-time generator
// of their DFAs (fsm/prebuilt/) and the tests walk.
const std::vector<std::string_view>& format_names();

}  // namespace tollgate::grammar
