// Stable diagnostic codes — the [CODE] that `tollgate check` prints after each message and that
// docs/diagnostics.md documents (a bad example and its fix for each). Takes: nothing. Gives: the
// code strings every front-end and check uses, in one place. Codes are never renumbered or
// reused; a retired check keeps its number.
#pragma once

namespace tollgate::grammar::codes {

// Any input
inline constexpr const char* kSyntax = "TG001";       // malformed grammar, regex or JSON text
inline constexpr const char* kUnsupported = "TG002";  // well-formed, but a construct tollgate does not support
inline constexpr const char* kLimit = "TG003";        // a limit (nesting, DFA states, DFA memory) exceeded
inline constexpr const char* kIo = "TG004";           // a file that cannot be read

// Grammars (GBNF, Lark, EBNF)
inline constexpr const char* kUndefinedRule = "TG101";
inline constexpr const char* kUnusedRule = "TG102";         // defined, referenced nowhere
inline constexpr const char* kUnreachableRule = "TG103";    // referenced, but only from rules the start never reaches
inline constexpr const char* kUnproductiveRule = "TG104";   // derives no string
inline constexpr const char* kEmptyLanguage = "TG105";      // the start rule derives no string
inline constexpr const char* kOnlyEmptyString = "TG106";    // the language is {""}
inline constexpr const char* kRecursiveTerminal = "TG107";  // Lark terminal refers to itself (refused)
inline constexpr const char* kLeftRecursion = "TG108";      // GBNF left recursion (llama.cpp refuses it)
inline constexpr const char* kTerminalRefersToRule = "TG109";
inline constexpr const char* kDuplicateRule = "TG110";
inline constexpr const char* kNoStartRule = "TG111";
inline constexpr const char* kShadowedAlternative = "TG112";  // Lark: an earlier alternative always wins
inline constexpr const char* kEmptyTerminal = "TG113";        // a terminal/literal that matches only ""
inline constexpr const char* kDuplicateAlternative = "TG114"; // ambiguity: the same alternative twice
inline constexpr const char* kNullableRepeat = "TG115";       // ambiguity: a repetition of something that matches ""
inline constexpr const char* kIgnoredFeature = "TG116";       // Lark alias / priority ignored

// Regexes
inline constexpr const char* kRegexOnlyEmpty = "TG201";  // the regex matches only ""
inline constexpr const char* kRegexNothing = "TG202";    // the regex matches no string at all

// JSON Schemas
inline constexpr const char* kSchemaUnsupported = "TG301";  // a keyword that cannot be compiled exactly
inline constexpr const char* kSchemaRelaxed = "TG302";      // --lenient: compiled as an over-approximation
inline constexpr const char* kSchemaUnknownKeyword = "TG303";
inline constexpr const char* kSchemaUnknownFormat = "TG304";
inline constexpr const char* kSchemaMinMax = "TG305";          // minimum > maximum (or the exclusive forms)
inline constexpr const char* kSchemaMinMaxLength = "TG306";    // minLength > maxLength
inline constexpr const char* kSchemaMinMaxItems = "TG307";     // minItems > maxItems
inline constexpr const char* kSchemaMinMaxProperties = "TG308";
inline constexpr const char* kSchemaRequiredForbidden = "TG309";  // required, but additionalProperties: false
inline constexpr const char* kSchemaEnumType = "TG310";        // an enum value that violates `type`
inline constexpr const char* kSchemaConstType = "TG311";       // const that violates `type`
inline constexpr const char* kSchemaPatternNothing = "TG312";  // a pattern that matches no string
inline constexpr const char* kSchemaInvalid = "TG313";         // any other schema error (bad $ref, bad keyword value)
inline constexpr const char* kSchemaRequiredTooMany = "TG314"; // more required properties than maxProperties
inline constexpr const char* kSchemaRegexSubset = "TG315";     // format 'regex': a subset of the valid patterns
inline constexpr const char* kSchemaNotInDialect = "TG316";    // a keyword the $schema's draft does not have: ignored

// `tollgate match`
inline constexpr const char* kMatchRefused = "TG501";     // a byte the grammar does not allow there
inline constexpr const char* kMatchIncomplete = "TG502";  // the input ends before the grammar is satisfied
inline constexpr const char* kTokenRefused = "TG503";     // --tokenizer replay: a token the mask refuses

}  // namespace tollgate::grammar::codes
