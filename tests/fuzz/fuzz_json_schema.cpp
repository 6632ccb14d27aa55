// libFuzzer target: the JSON Schema compiler, with a structure-aware mutator.
// Takes: JSON text (a schema); TOLLGATE_FUZZ_TOKENIZER (optional: a tokenizer directory name under
// $TOLLGATE_DATA_DIR/tokenizers, e.g. llama2; default the 257-token byte vocabulary).
// Gives: a finding when compiling it (small limits) or taking a first mask does anything but
// succeed or throw tollgate::Error; on exit, how many mutations took the structured path.
// LLVMFuzzerCustomMutator parses the input with nlohmann::json, changes one node (a keyword
// renamed to another schema keyword, a value replaced by a boundary number/string/bool/empty
// container, a subtree copied under another key, a node wrapped in anyOf/not/items, a member
// removed) and serialises it again; input that is not JSON, or a result over max_size, falls back
// to libFuzzer's byte mutations.
#include <nlohmann/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "grammar/json_schema_strings.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tollgate/matcher.hpp"

namespace {

using nlohmann::json;

const char* const kKeywords[] = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "anyOf", "oneOf",
    "allOf", "not", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties", "patternProperties", "propertyNames", "$ref", "$defs",
    "definitions", "$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "if", "then", "else",
    "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "contains",
    "minContains", "maxContains", "$schema", "default"};
const char* const kTypes[] = {"object", "array", "string", "number", "integer", "boolean", "null"};

json boundary_value(std::mt19937& rng) {
  switch (rng() % 14) {
    case 0: return 0;
    case 1: return -1;
    case 2: return 1'000'000'000;
    case 3: return 1e308;
    case 4: return 0.1;
    case 5: return "";
    case 6: return kTypes[rng() % 7];
    case 7: return "#";
    case 8: return "#/$defs/a";
    case 9: return "^(a|b)*c{2,5}$";
    case 10: return true;
    case 11: return false;
    case 12: return json::array();
    default: return json::object();
  }
}

// All nodes of the document, parents before children.
void collect(json& j, std::vector<json*>& out) {
  out.push_back(&j);
  if (j.is_object() || j.is_array()) {
    for (auto& c : j) collect(c, out);
  }
}

void mutate(json& doc, std::mt19937& rng) {
  std::vector<json*> nodes;
  collect(doc, nodes);
  json& n = *nodes[rng() % nodes.size()];
  json& other = *nodes[rng() % nodes.size()];
  switch (rng() % 6) {
    case 0:  // add or overwrite a keyword with a boundary value
      if (!n.is_object()) n = json::object();
      n[kKeywords[rng() % std::size(kKeywords)]] = boundary_value(rng);
      break;
    case 1:  // replace the node
      n = boundary_value(rng);
      break;
    case 2: {  // copy a subtree under a keyword (often makes a schema inside a schema)
      json copy = other;
      if (!n.is_object()) n = json::object();
      n[kKeywords[rng() % std::size(kKeywords)]] = std::move(copy);
      break;
    }
    case 3: {  // wrap in a combinator
      static const char* const wraps[] = {"anyOf", "allOf", "oneOf", "not", "items", "additionalProperties"};
      const char* w = wraps[rng() % std::size(wraps)];
      json inner = n;
      if (std::string_view(w).ends_with("Of")) n = json{{w, json::array({std::move(inner)})}};
      else n = json{{w, std::move(inner)}};
      break;
    }
    case 4:  // remove a member or element
      if (n.is_object() && !n.empty()) {
        auto it = n.begin();
        std::advance(it, rng() % n.size());
        n.erase(it);
      } else if (n.is_array() && !n.empty()) {
        n.erase(n.begin() + static_cast<long>(rng() % n.size()));
      }
      break;
    default:  // nudge a number or grow a container
      if (n.is_number_integer()) n = n.get<int64_t>() + static_cast<int64_t>(rng() % 7) - 3;
      else if (n.is_array()) n.push_back(other);
      else n = json{{"type", kTypes[rng() % 7]}};
      break;
  }
}

// How the custom mutator's calls went (printed at exit and every 2^k calls).
struct MutationCounts {
  size_t structured = 0;   // parsed, mutated as JSON, serialised
  size_t bytes_drawn = 0;  // the 1 in 8 drawn for byte mutations
  size_t not_json = 0;     // input was not JSON: byte mutations
  size_t too_long = 0;     // the mutated JSON was over max_size: byte mutations
  void print() const {
    std::fprintf(stderr, "fuzz_json_schema: mutations: %zu structured, %zu bytes by draw, %zu bytes (not JSON), %zu bytes (too long)\n",
                 structured, bytes_drawn, not_json, too_long);
  }
};
MutationCounts counts;

void count_call() {
  size_t total = counts.structured + counts.bytes_drawn + counts.not_json + counts.too_long;
  if (total >= 1024 && (total & (total - 1)) == 0) counts.print();
}

tollgate::TokenizerInfoPtr fuzz_vocabulary() {
  namespace fs = std::filesystem;
  const char* name = std::getenv("TOLLGATE_FUZZ_TOKENIZER");
  const char* dd = std::getenv("TOLLGATE_DATA_DIR");
  if (!name || !*name) return tollgate::TokenizerInfo::bytes_with_eos();
  fs::path dir = fs::path(dd ? dd : "") / "tokenizers" / name;
  if (!fs::exists(dir / "tokenizer.json")) {
    std::fprintf(stderr, "fuzz_json_schema: no %s/tokenizer.json\n", dir.c_str());
    std::exit(2);
  }
  return tollgate::TokenizerInfo::from_file(dir.string());
}

const tollgate::Compiler& compiler() {
  static const tollgate::Compiler c(fuzz_vocabulary(), tollgate::fuzz::small_options());
  return c;
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  count_call();
  if (rng() % 8 != 0) {  // 1 in 8: bytes, so malformed JSON is fuzzed too
    json doc = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded()) {
      int rounds = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < rounds; ++i) mutate(doc, rng);
      std::string out = doc.dump();
      if (out.size() <= max_size) {
        std::copy(out.begin(), out.end(), data);
        ++counts.structured;
        return out.size();
      }
      ++counts.too_long;
    } else {
      ++counts.not_json;
    }
  } else {
    ++counts.bytes_drawn;
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

// Each format's regex is parsed once per process; "time" and "date-time" take seconds under ASan
// (a third of a second without), so they are parsed here, before the first input, and do not
// count against libFuzzer's per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (const char* f : {"date", "time", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "uri",
                        "uri-reference", "iri", "iri-reference", "uri-template", "uuid", "json-pointer",
                        "relative-json-pointer"})
    (void)tollgate::grammar::format_regex(f);
  std::fprintf(stderr, "fuzz_json_schema: a %d-token vocabulary\n", compiler().tokenizer()->vocab_size());
  std::atexit([] { counts.print(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tollgate;
  static const int vocab = compiler().tokenizer()->vocab_size();
  for (bool lenient : {false, true}) {
    try {
      JsonSchemaOptions opt;
      opt.lenient = lenient;
      auto g = compiler().compile_json_schema(fuzz::as_text(data, size), opt);
      Matcher m(g);
      std::vector<int32_t> mask(bitmask_words(vocab));
      m.fill_next_token_bitmask(mask.data());
      return 0;
    } catch (const Error&) {
    }
  }
  return 0;
}
