// parse_ordered_json against nlohmann::ordered_json::parse (the oracle): the same value, key order
// and duplicates included, on hand-made cases, on every maskbench-dev file, and on mutations of
// them (bytes dropped, doubled, replaced); the same exception on malformed text.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "grammar/json_ordered.hpp"
#include "test_support.hpp"

namespace {

using Json = nlohmann::ordered_json;
using tollgate::grammar::parse_ordered_json;
using tollgate::grammar::try_parse_ordered_json;

// Both parsers on `text`: both fail with the same message, or both give the same value (dumped,
// so key order counts; numbers dumped as nlohmann dumps each type).
void agree(const std::string& text) {
  std::string want, got;
  try {
    want = Json::parse(text).dump();
  } catch (const Json::exception& e) {
    want = std::string("error: ") + e.what();
  }
  try {
    got = parse_ordered_json(text).dump();
  } catch (const Json::exception& e) {
    got = std::string("error: ") + e.what();
  }
  INFO(text.substr(0, 200));
  REQUIRE(got == want);
  Json out;
  CHECK(try_parse_ordered_json(text, out) == (want.rfind("error: ", 0) != 0));
  Json fast;
  CHECK(tollgate::grammar::read_ordered_json(text, fast) == (want.rfind("error: ", 0) != 0));  // no fallback needed
  if (want.rfind("error: ", 0) != 0) {
    CHECK(fast.dump() == want);
    // The same types too (dump writes 1.0 and 1 differently, but not int64 and uint64).
    Json ref = Json::parse(text);
    CHECK(out == ref);
    if (ref.is_number()) CHECK(out.type() == ref.type());
  }
}

}  // namespace

TEST_CASE("parse_ordered_json: key order, duplicates, nesting and errors as ordered_json::parse", "[json-ordered]") {
  agree(R"({"b": 1, "a": [true, false, null, {"z": 1.5, "y": -2, "x": 18446744073709551615}], "c": "\u00e9\ud83d\ude00"})");
  agree(R"({"a": 1, "b": 2, "a": 3})");                            // the first place, the last value
  agree(R"({"a": {"x": 1}, "a": [1, 2], "b": {"a": 1, "a": {}}})");  // a container replaced by a later one
  std::string big = "{";
  for (int i = 0; i < 200; ++i) big += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  big += "\"k5\": \"again\", \"k199\": [\"again\"], \"k40\": {\"k40\": 1, \"k40\": 2}}";  // past the hashed threshold
  agree(big);
  CHECK(parse_ordered_json(big).size() == 200);
  agree("[]");
  agree("{}");
  agree("  7  ");
  agree("\"s\"");
  std::string deep;
  for (int i = 0; i < 3000; ++i) deep += "[{\"a\":";
  deep += "1";
  for (int i = 0; i < 3000; ++i) deep += "}]";
  agree(deep);
  // Numbers as nlohmann converts them: integers in range, past it as doubles, and the forms JSON allows.
  agree("[0, -0, 1, -1, 9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809, "
        "18446744073709551615, 18446744073709551616, 1.0, -0.0, 1e5, 1E+5, 1e-5, 0.1e-2, 123.456e78, 5e-324, "
        "1.7976931348623157e308, 123456789012345678901234567890]");
  for (const char* num : {"0", "-0", "18446744073709551615", "-9223372036854775808", "1e5", "00", "01", "-01", "1.",
                          ".5", "+1", "1e", "1e+", "-", "1.7976931348623159e308", "-1e309", "0x10", "1.5e3", "-0.0",
                          "[1 2]", "[01]", "[-]"})
    agree(num);
  // Strings: every escape, surrogate pairs, lone surrogates, raw UTF-8 good and bad, control bytes.
  agree(R"(["\\ \" \/ \b \f \n \r \t", "\u0000\u001f\u00e9\u20ac\ud83d\ude00\uffff", "\u00E9\u00e9"])");
  for (const char* str : {R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\ud800\")", R"("\u12")", R"("\x")",
                          "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", "\"\xC0\xAF\"", "\"\xED\xA0\x80\"",
                          "\"\xF4\x90\x80\x80\"", "\"\xE2\x82\"", "\"\x80\"", "\"\xFF\"", "\"a\tb\"", "\"\x7F\"", "\"abc",
                          "\"\xE0\x80\x80\"", "\"\xF0\x80\x80\x80\""})
    agree(str);
  agree(" \t\r\n{ \"a\" \n:\r[ 1 ,\t2 ] , \"b\":{ } }\n ");
  for (const char* bad : {"", "{", "[1, 2", "{\"a\":}", "{\"a\" 1}", "{\"a\": 1}x", "1e999", "-1e400", "[1,]",
                          "{\"a\": tru}", "\"\x01\"", "/* c */ 1", "{\"a\": 1,}", "nul", "{1: 2}", "[}", "{]", "\v1"})
    agree(bad);
}

TEST_CASE("parse_ordered_json: every maskbench-dev file and mutations of them as ordered_json::parse",
          "[json-ordered]") {
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(mb))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() > 1000);
  std::mt19937 rng(8);
  size_t mutated_ok = 0, mutated_bad = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream in(files[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    agree(text);
    if (i % 8 != 0 || text.size() < 2) continue;
    // A few mutations of every 8th file: near a structural byte where possible, so that both
    // well-formed variants (a dropped space, a doubled digit) and errors at odd places come up.
    for (int k = 0; k < 6; ++k) {
      std::string m = text;
      size_t at = std::uniform_int_distribution<size_t>(0, m.size() - 1)(rng);
      size_t near = m.find_first_of("{}[],:\"0123456789\\", at);
      if (near != std::string::npos && k % 2 == 0) at = near;
      switch (k % 3) {
        case 0: m.erase(at, 1); break;
        case 1: m.insert(at, 1, m[at]); break;
        default: m[at] = "{}[],:\"0 \\e.-\x80"[std::uniform_int_distribution<int>(0, 13)(rng)]; break;
      }
      agree(m);
      Json out;
      (try_parse_ordered_json(m, out) ? mutated_ok : mutated_bad)++;
    }
  }
  CHECK(mutated_ok > 0);  // both kinds were met
  CHECK(mutated_bad > 0);
}

// Strings are read eight bytes at a time while no byte of the word can end the plain run: every
// byte that can (a control character, '"', '\\', non-ASCII, each in turn the edge of its class),
// at every offset of a word and of the text, with plain bytes up to and past it.
TEST_CASE("parse_ordered_json: each byte that ends a plain run, at every alignment", "[json-ordered]") {
  const std::vector<std::string> specials = {
      std::string(1, '\0'), "\x01", "\x1f", "\"", "\\\\", "\\\"", "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9",
      "\xf0\x9f\x98\x80", "\x7f", "\x80", "\xff", " ", "!", "#", "[", "]", "\\n", "\\x"};
  size_t checked = 0;
  for (const std::string& sp : specials)
    for (size_t lead = 0; lead < 20; ++lead)
      for (size_t pad : {0, 1, 15}) {
        const std::string body = std::string(lead, 'a') + sp + std::string(pad, 'b');
        for (size_t indent = 0; indent < 8; ++indent) {
          agree(std::string(indent, ' ') + "\"" + body + "\"");
          agree(std::string(indent, ' ') + "{\"" + body + "\": \"" + body + "\"}");
          checked += 2;
        }
      }
  CHECK(checked == specials.size() * 20 * 3 * 8 * 2);
}
