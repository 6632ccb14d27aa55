// JSON Schema lint (see json_schema_lint.hpp). Takes: schema text. Gives: contradiction errors with
// JSON pointers.
#include "grammar/json_schema_lint.hpp"

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "fsm/dfa.hpp"

namespace tollgate::grammar {

namespace {

using Json = nlohmann::json;

std::string escape_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// The JSON types a value has, in the spelling of `type` ("integer" also counts as "number").
bool has_type(const Json& v, const std::string& t) {
  if (t == "null") return v.is_null();
  if (t == "boolean") return v.is_boolean();
  if (t == "string") return v.is_string();
  if (t == "array") return v.is_array();
  if (t == "object") return v.is_object();
  if (t == "number") return v.is_number();
  if (t == "integer") {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return true;  // an unknown type name is the compiler's to report
}

std::string type_list(const Json& type) {
  if (type.is_string()) return type.get<std::string>();
  std::string s;
  for (auto& t : type) s += (s.empty() ? "" : ", ") + (t.is_string() ? t.get<std::string>() : t.dump());
  return "[" + s + "]";
}

bool fits_type(const Json& v, const Json& type) {
  if (type.is_string()) return has_type(v, type.get<std::string>());
  if (!type.is_array()) return true;
  for (auto& t : type)
    if (!t.is_string() || has_type(v, t.get<std::string>())) return true;
  return false;
}

std::string short_dump(const Json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

class Linter {
 public:
  Linter(std::string file) : file_(std::move(file)) {}
  std::vector<Diagnostic> out;

  void schema(const Json& s, const std::string& ptr) {
    if (!s.is_object()) return;
    bounds(s, ptr);
    pair(s, ptr, "minLength", "maxLength", codes::kSchemaMinMaxLength, "no string has a length between them");
    pair(s, ptr, "minItems", "maxItems", codes::kSchemaMinMaxItems, "no array has an item count between them");
    pair(s, ptr, "minProperties", "maxProperties", codes::kSchemaMinMaxProperties,
         "no object has a property count between them");
    required(s, ptr);
    values(s, ptr);
    pattern(s, ptr);
    // Subschemas: every object or array value except the keywords whose values are data.
    static const std::set<std::string> kData = {"enum", "const", "default", "examples", "required",
                                                "title", "description", "$comment", "dependentRequired"};
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (kData.count(it.key())) continue;
      descend(it.value(), ptr + "/" + escape_token(it.key()));
    }
  }

 private:
  std::string file_;

  int depth_ = 0;

  void descend(const Json& v, const std::string& ptr) {
    // deeper than any schema the compiler accepts: not linted (and no deep recursion here)
    if (depth_ > static_cast<int>(kDefaultMaxNesting)) return;
    struct Level {
      int& d;
      explicit Level(int& x) : d(x) { ++d; }
      ~Level() { --d; }
    } level(depth_);
    if (v.is_object()) {
      // a map of subschemas (properties, $defs, patternProperties) or a schema itself
      schema(v, ptr);
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) descend(v[i], ptr + "/" + std::to_string(i));
    }
  }

  void error(const std::string& ptr, const std::string& msg, const char* code) {
    Diagnostic d;
    d.message = msg;
    d.code = code;
    d.severity = Severity::kError;
    d.pos.file = file_;
    d.pos.pointer = ptr.empty() ? "/" : ptr;
    out.push_back(std::move(d));
  }

  void bounds(const Json& s, const std::string& ptr) {
    auto num = [&](const char* k) -> const Json* {
      auto it = s.find(k);
      return it != s.end() && it->is_number() ? &*it : nullptr;
    };
    const Json* lo = num("minimum");
    const Json* xlo = num("exclusiveMinimum");
    const Json* hi = num("maximum");
    const Json* xhi = num("exclusiveMaximum");
    // the tightest bound on each side
    const char* lo_key = nullptr;
    double lov = 0;
    bool lo_ex = false;
    if (lo) lo_key = "minimum", lov = lo->get<double>();
    if (xlo && (!lo || xlo->get<double>() >= lov)) lo_key = "exclusiveMinimum", lov = xlo->get<double>(), lo_ex = true;
    const char* hi_key = nullptr;
    double hiv = 0;
    bool hi_ex = false;
    if (hi) hi_key = "maximum", hiv = hi->get<double>();
    if (xhi && (!hi || xhi->get<double>() <= hiv)) hi_key = "exclusiveMaximum", hiv = xhi->get<double>(), hi_ex = true;
    if (!lo_key || !hi_key) return;
    if (lov > hiv || (lov == hiv && (lo_ex || hi_ex)))
      error(ptr + "/" + lo_key,
            std::string(lo_key) + " " + s[lo_key].dump() + (lov > hiv ? " is greater than " : " equals ") + hi_key +
                " " + s[hi_key].dump() + ": no number satisfies both",
            codes::kSchemaMinMax);
  }

  void pair(const Json& s, const std::string& ptr, const char* min_key, const char* max_key, const char* code,
            const char* why) {
    auto a = s.find(min_key), b = s.find(max_key);
    if (a == s.end() || b == s.end() || !a->is_number() || !b->is_number()) return;
    if (a->get<double>() > b->get<double>())
      error(ptr + "/" + min_key,
            std::string(min_key) + " " + a->dump() + " is greater than " + max_key + " " + b->dump() + ": " + why, code);
  }

  void required(const Json& s, const std::string& ptr) {
    auto req = s.find("required");
    if (req == s.end() || !req->is_array()) return;
    std::set<std::string> names;
    for (auto& r : *req)
      if (r.is_string()) names.insert(r.get<std::string>());
    auto maxp = s.find("maxProperties");
    if (maxp != s.end() && maxp->is_number() && static_cast<double>(names.size()) > maxp->get<double>())
      error(ptr + "/required",
            std::to_string(names.size()) + " properties are required but maxProperties is " + maxp->dump() +
                ": no object satisfies both",
            codes::kSchemaRequiredTooMany);
    auto add = s.find("additionalProperties");
    if (add == s.end() || !(add->is_boolean() && !add->get<bool>())) return;
    auto pp = s.find("patternProperties");
    if (pp != s.end() && pp->is_object() && !pp->empty()) return;  // names may match a pattern
    auto props = s.find("properties");
    for (size_t i = 0; i < req->size(); ++i) {
      const Json& r = (*req)[i];
      if (!r.is_string()) continue;
      std::string name = r.get<std::string>();
      if (props != s.end() && props->is_object() && props->contains(name)) continue;
      error(ptr + "/required/" + std::to_string(i),
            "property '" + name + "' is required, but additionalProperties: false forbids it (it is not in "
            "'properties'): no object satisfies both",
            codes::kSchemaRequiredForbidden);
    }
  }

  void values(const Json& s, const std::string& ptr) {
    auto type = s.find("type");
    if (type == s.end() || !(type->is_string() || type->is_array())) return;
    auto en = s.find("enum");
    if (en != s.end() && en->is_array()) {
      size_t bad = 0;
      for (size_t i = 0; i < en->size(); ++i) {
        if (fits_type((*en)[i], *type)) continue;
        ++bad;
        error(ptr + "/enum/" + std::to_string(i),
              "enum value " + short_dump((*en)[i]) + " is not of type " + type_list(*type) +
                  (bad == en->size() ? ": no value satisfies both" : ": it can never be produced"),
              codes::kSchemaEnumType);
      }
    }
    auto cn = s.find("const");
    if (cn != s.end() && !fits_type(*cn, *type))
      error(ptr + "/const",
            "const value " + short_dump(*cn) + " is not of type " + type_list(*type) + ": no value satisfies both",
            codes::kSchemaConstType);
  }

  void pattern(const Json& s, const std::string& ptr) {
    auto p = s.find("pattern");
    if (p == s.end() || !p->is_string()) return;
    try {
      RegexOptions ro;
      ro.ecma = true;
      ro.search = true;
      fsm::DfaOptions small;
      small.max_states = 50000;
      small.max_memory_bytes = size_t{8} << 20;
      if (fsm::compile_dfa(*parse_regex(p->get<std::string>(), ro), small).empty())
        error(ptr + "/pattern", "pattern '" + p->get<std::string>() + "' matches no string",
              codes::kSchemaPatternNothing);
    } catch (const Error&) {
      // a malformed or too large pattern: the compiler reports it
    }
  }
};

}  // namespace

std::vector<Diagnostic> lint_json_schema(std::string_view schema_json, std::string_view file) {
  Json doc = Json::parse(schema_json.begin(), schema_json.end(), nullptr, false);
  if (doc.is_discarded()) return {};
  Linter l{std::string(file)};
  l.schema(doc, "");
  return std::move(l.out);
}

}  // namespace tollgate::grammar
