// Character classes for the regex front-end, from ICU and fixed tables.
// Takes: a class name (\p{...} name, POSIX [:name:] name, Perl \d \w \s letter) or a CharSet.
// Gives: CharSets of code points; simple-case-folding closure for (?i).
#pragma once

#include <optional>
#include <string_view>

#include "grammar/regex_ast.hpp"

namespace tollgate::grammar {

// \p{name}: a general category (L, Lu, Letter, Uppercase_Letter, ...), a script (Greek, Han,
// ...), `Any`, or `prop=value` (gc=Lu, sc=Greek, script=Latin, Script_Extensions=Greek).
// ICU's loose matching applies (case, `_`, `-` and spaces are ignored). nullopt when unknown.
std::optional<CharSet> unicode_property(std::string_view name);

// POSIX bracket names (alnum, alpha, ascii, blank, cntrl, digit, graph, lower, print, punct,
// space, upper, word, xdigit), ASCII only as in RE2. nullopt when unknown.
std::optional<CharSet> posix_class(std::string_view name);

// \d \w \s (and upper-case negations): \d = [0-9], \w = [0-9A-Za-z_], \s = ECMAScript
// white space and line terminators.
CharSet perl_class(char letter);

// \d \w \s as Python's re reads them in a str pattern (python-jsonschema's matcher; JSON Schema patterns
// under RegexOptions::Dialects kBoth/kEither): \d every decimal digit (Nd), \w every letter and
// number (L, N) and '_', \s str.isspace() — ECMA's white space less U+FEFF, plus U+001C-U+001F and
// U+0085. Lower-case letters only (the caller complements); built once.
CharSet python_perl_class(char lower);

// Closes `set` under simple case folding: every code point whose simple fold equals the
// fold of a member is added (so k adds K and U+212A KELVIN SIGN).
CharSet case_fold_closure(const CharSet& set);

}  // namespace tollgate::grammar
