#include "test_support.hpp"

#include "grammar/regex_ast.hpp"

using tollgate::grammar::CharSet;
using tollgate::grammar::Regex;

TEST_CASE("CharSet normalises, merges and complements", "[regex_ast]") {
  CharSet s({{'c', 'f'}, {'a', 'b'}, {'x', 'x'}, {'e', 'h'}});
  REQUIRE(s.ranges().size() == 2);
  CHECK(s.ranges()[0] == tollgate::grammar::CharRange{'a', 'h'});
  CHECK(s.contains('x'));
  CHECK_FALSE(s.contains('i'));
  CharSet c = s.complement();
  CHECK(c.contains('i'));
  CHECK_FALSE(c.contains('a'));
  CHECK_FALSE(c.contains(0xD800));  // surrogates are never members
  CHECK(c.complement() == s);
  CHECK(CharSet::any().complement().empty());
}

TEST_CASE("Regex constructors simplify", "[regex_ast]") {
  auto a = Regex::literal("ab");
  CHECK(a->kind == Regex::Kind::kConcat);
  CHECK(Regex::concat({Regex::empty(), Regex::literal("a")})->kind == Regex::Kind::kChars);
  CHECK(Regex::alt({Regex::nothing()})->kind == Regex::Kind::kNothing);
  CHECK(Regex::repeat(Regex::literal("a"), 0, 0)->kind == Regex::Kind::kEmpty);
  CHECK(Regex::repeat(Regex::literal("a"), 3, 2)->kind == Regex::Kind::kNothing);
  CHECK(Regex::literal("é")->kind == Regex::Kind::kChars);
  CHECK(Regex::literal("\xff")->kind == Regex::Kind::kBytes);
}
