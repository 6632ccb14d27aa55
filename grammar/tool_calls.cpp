// Tool calls inside free text → Grammar IR (see tool_calls.hpp).
#include "grammar/tool_calls.hpp"

#include <algorithm>
#include <map>

#include "engine/json_scan.hpp"
#include "grammar/json_schema.hpp"

namespace tollgate::grammar {

namespace {

[[noreturn]] void bad_spec(const std::string& message) { throw Error(ErrorKind::kInvalidArgument, message); }

std::string quoted(const std::string& s) { return "'" + s + "'"; }

RegexPtr any_text() { return Regex::repeat(Regex::chars_of(CharSet::any()), 0, kUnbounded); }

}  // namespace

Grammar tool_calls_to_grammar(const ToolCallSpec& spec, std::string_view file) {
  if (spec.tags.empty()) bad_spec("tool calls: no tags given");
  std::vector<std::string> triggers = spec.triggers;
  if (triggers.empty())
    for (const auto& t : spec.tags)
      if (std::find(triggers.begin(), triggers.end(), t.begin) == triggers.end()) triggers.push_back(t.begin);
  for (const auto& t : triggers)
    if (t.empty()) bad_spec("tool calls: a trigger is empty");
  // A trigger that occurs inside another one, ending before its end, would always fire first:
  // the longer one could never start a call.
  for (const auto& a : triggers)
    for (const auto& b : triggers) {
      if (&a == &b) continue;
      size_t at = b.find(a);
      if (at != std::string::npos && at + a.size() < b.size())
        bad_spec("tool calls: trigger " + quoted(a) + " occurs inside trigger " + quoted(b) +
                 ", which could never start a call");
      if (a == b) bad_spec("tool calls: trigger " + quoted(a) + " is given twice");
    }
  // Each tag's trigger: the shortest one its begin starts with (it completes first).
  std::vector<size_t> tag_trigger(spec.tags.size());
  for (size_t i = 0; i < spec.tags.size(); ++i) {
    const auto& begin = spec.tags[i].begin;
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < triggers.size(); ++k)
      if (begin.compare(0, triggers[k].size(), triggers[k]) == 0 &&
          (best == SIZE_MAX || triggers[k].size() < triggers[best].size()))
        best = k;
    if (best == SIZE_MAX)
      bad_spec("tool calls: tag " + std::to_string(i) + " begins with " + quoted(begin) +
               ", which starts with no trigger");
    tag_trigger[i] = best;
  }

  Grammar g;
  g.file = std::string(file);
  g.fixed_lexemes = false;
  g.leftmost_first = false;
  std::vector<RegexPtr> trig;
  for (const auto& t : triggers) trig.push_back(Regex::literal(t));
  RegexPtr any_trigger = Regex::alt(trig);
  // NT: no trigger anywhere. FT_k: ends with trigger k, and no trigger ends earlier.
  RegexPtr no_trigger = Regex::complement(Regex::concat({any_text(), any_trigger, any_text()}));
  RegexPtr fired_early =
      Regex::concat({any_text(), any_trigger, Regex::repeat(Regex::chars_of(CharSet::any()), 1, kUnbounded)});

  std::map<std::string, std::string> schema_root;  // schema text → its root rule here
  std::vector<std::vector<GExprPtr>> calls(triggers.size());
  for (size_t i = 0; i < spec.tags.size(); ++i) {
    const ToolCallTag& tag = spec.tags[i];
    auto it = schema_root.find(tag.schema);
    if (it == schema_root.end()) {
      Grammar sub;
      try {
        sub = json_schema_to_grammar(tag.schema, spec.json, file, /*embedded=*/true);
      } catch (const Error& e) {
        SourcePos pos = e.pos();
        if (!pos.pointer.empty() && pos.line == 0) {
          size_t at = engine::locate_json_pointer(tag.schema, pos.pointer);
          if (at != std::string::npos) {
            std::string ptr = pos.pointer;
            pos = position_in(tag.schema, at, pos.file);
            pos.pointer = ptr;
          }
        }
        throw Error(e.kind(), "tag " + std::to_string(i) + " (" + quoted(tag.begin) + "): " + e.message(), pos);
      }
      for (auto& w : sub.warnings) {
        w.message = "tag " + std::to_string(i) + " (" + quoted(tag.begin) + "): " + w.message;
        g.warnings.push_back(w);
      }
      std::string root = embed_grammar(g, std::move(sub), "tool" + std::to_string(i) + "/", 0, false);
      it = schema_root.emplace(tag.schema, root).first;
    }
    std::vector<GExprPtr> call;
    std::string rest = tag.begin.substr(triggers[tag_trigger[i]].size());
    if (!rest.empty()) call.push_back(GExpr::leaf(Regex::literal(rest)));
    call.push_back(GExpr::ref(it->second));
    if (!tag.end.empty()) call.push_back(GExpr::leaf(Regex::literal(tag.end)));
    calls[tag_trigger[i]].push_back(GExpr::seq(std::move(call)));
  }
  std::vector<GExprPtr> groups;
  for (size_t k = 0; k < triggers.size(); ++k) {
    if (calls[k].empty()) continue;  // a trigger no tag begins with: free text never contains it
    RegexPtr ft = Regex::intersect({Regex::concat({any_text(), trig[k]}), Regex::complement(fired_early)});
    groups.push_back(GExpr::seq({GExpr::leaf(ft), GExpr::alt(std::move(calls[k]))}));
  }
  GRule call_rule;
  call_rule.name = "call";
  call_rule.body = GExpr::alt(std::move(groups));
  g.rules.push_back(std::move(call_rule));
  uint32_t min = spec.required ? 1 : 0;
  uint32_t max = spec.at_most_one ? 1 : kUnbounded;
  GRule start;
  start.name = "start";
  start.body = GExpr::seq({GExpr::repeat(GExpr::ref("call"), min, max), GExpr::leaf(no_trigger)});
  g.rules.push_back(std::move(start));
  g.start = static_cast<int>(g.rules.size()) - 1;
  check_grammar_ir(g);
  return g;
}

}  // namespace tollgate::grammar
