// python3-lark as a second oracle for the Lark dialect. Grammars: both files in
// corpora/llguidance/sample_parser/data, every grammar of the llguidance cfg-vectors that we
// compile (those using llguidance extensions we refuse), and tests/data/lark (JSON, a
// calculator, INI, SQL, markup, s-expressions: case-insensitive keywords, lazy regexes,
// priorities, %import common, ranges). For each, sentences sampled at random from our grammar must parse with Lark
// (Earley, its default `dynamic` lexer), and on one-byte mutations of them both engines must
// agree (Lark parses ⇔ we accept), as on the grammar texts themselves read as documents of lark.lark.
// Grammars Lark itself refuses are counted and skipped.
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <sys/wait.h>
#include <fstream>
#include <random>

#include "fsm/cfg.hpp"
#include "fsm/cfg_runtime.hpp"
#include "grammar/grammar_ir.hpp"
#include "test_support.hpp"

using namespace tollgate;

namespace {

// A random sentence: random allowed bytes (printable ASCII, tab, newline), stopping at an
// accepting state with probability 1/4; empty optional when no sentence within max_len.
std::optional<std::string> sample(const fsm::CfgRuntime& rt, std::mt19937& rng, size_t max_len) {
  fsm::ParserState s = rt.initial(), next;
  std::string out;
  while (out.size() < max_len) {
    if (s.accepting && rng() % 4 == 0) return out;
    std::vector<uint8_t> allowed;
    for (int b = 0; b < 128; ++b) {
      if (b != '\n' && b != '\t' && (b < 0x20 || b == 0x7F)) continue;
      if (rt.step(s, static_cast<uint8_t>(b), next)) allowed.push_back(static_cast<uint8_t>(b));
    }
    if (allowed.empty()) break;
    uint8_t b = allowed[rng() % allowed.size()];
    rt.step(s, b, next);
    std::swap(s, next);
    out.push_back(static_cast<char>(b));
  }
  if (s.accepting) return out;
  return std::nullopt;
}

struct Job {
  std::string name, grammar;
  std::unique_ptr<fsm::CfgRuntime> rt;
  std::vector<std::string> samples, mutants;
};

}  // namespace

TEST_CASE("lark oracle: python3-lark agrees with the Lark dialect", "[cfg][lark]") {
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/llguidance/sample_parser/data/lark.lark");
  TOLLGATE_DATA_OR_SKIP(vectors, "corpora/cfg-vectors/llguidance-lark.json");
  if (std::system("/usr/bin/python3 -c 'import lark' 2>/dev/null") != 0) {
    tollgate::testing::note_skipped("python3-lark not installed");
    WARN("skipped: python3-lark not installed");
    return;
  }
  std::vector<Job> jobs;
  for (auto& e : std::filesystem::directory_iterator(dir.parent_path()))
    if (e.path().extension() == ".lark")
      jobs.push_back({e.path().filename().string(), tollgate::testing::read_file(e.path()), nullptr, {}, {}});
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark"))
    jobs.push_back({e.path().filename().string(), tollgate::testing::read_file(e.path()), nullptr, {}, {}});
  const auto cases = nlohmann::json::parse(tollgate::testing::read_file(vectors))["cases"];
  for (auto& c : cases) {
    if (!c.value("error", nlohmann::json()).is_null()) continue;
    if (c["name"] == "lark.lark" || c["name"] == "rfc.lark") continue;  // the sample_parser files, above
    jobs.push_back({c["name"].get<std::string>(), c["grammar"].get<std::string>(), nullptr, {}, {}});
  }
  const std::string alphabet = "abcXYZ019 \n\"'():|*+?[]{}.-_/%<>=&;#";
  std::mt19937 rng(7);
  size_t we_refuse = 0;
  nlohmann::json in = nlohmann::json::array();
  for (auto& j : jobs) {
    try {
      j.rt = std::make_unique<fsm::CfgRuntime>(fsm::build_cfg(grammar::parse_grammar(j.grammar, "lark", j.name)));
    } catch (const Error& e) {
      ++we_refuse;
      continue;
    }
    bool big = j.name.size() > 5 && j.name.compare(j.name.size() - 5, 5, ".lark") == 0;
    size_t want = big ? 300 : 40;
    for (size_t i = 0; i < want * 12 && j.samples.size() < want; ++i)
      if (auto s = sample(*j.rt, rng, big ? 160 : 60)) j.samples.push_back(*s);
    for (int copy = 0; copy < 2; ++copy)
      for (auto& s : j.samples) {
        std::string m = s;
        size_t at = m.empty() ? 0 : rng() % (m.size() + 1);
        switch (rng() % 3) {
          case 0: if (at < m.size()) m.erase(at, 1); break;
          case 1: m.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
          default: if (at < m.size()) m[at] = alphabet[rng() % alphabet.size()]; else m.push_back('x');
        }
        j.mutants.push_back(m);
      }
    if (j.name == "lark.lark") {
      // Real documents for the grammar of Lark's syntax: the Lark grammars themselves (some use
      // escapes its simplified STRING cannot read; both engines must still agree).
      j.mutants.push_back(j.grammar);
      for (auto& other : jobs)
        if (other.name != j.name) j.mutants.push_back(other.grammar);
    }
    std::vector<std::string> all = j.samples;
    all.insert(all.end(), j.mutants.begin(), j.mutants.end());
    in.push_back({{"name", j.name}, {"grammar", j.grammar}, {"strings", all}});
  }
  auto tmp = std::filesystem::temp_directory_path();
  std::string in_path = (tmp / ("tollgate_lark_in_" + std::to_string(::getpid()) + ".json")).string();
  std::string out_path = (tmp / ("tollgate_lark_out_" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(in_path) << in.dump();
  std::string cmd = "/usr/bin/python3 " + std::string(TOLLGATE_SOURCE_DIR) + "/tests/scripts/lark_oracle.py " +
                    in_path + " " + out_path;
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto out = nlohmann::json::parse(tollgate::testing::read_file(out_path));
  std::filesystem::remove(in_path);
  std::filesystem::remove(out_path);
  size_t k = 0, grammars = 0, samples = 0, mutants = 0, lark_yes = 0;
  std::vector<std::string> refused;
  for (auto& j : jobs) {
    if (!j.rt) continue;
    const auto& r = out.at(k++);
    if (r.contains("refused")) {
      refused.push_back(j.name + " (" + r["refused"].get<std::string>() + ")");
      tollgate::testing::note_skipped("lark oracle: Lark refuses " + j.name);
      continue;
    }
    auto verdict = r["verdict"].get<std::vector<bool>>();
    REQUIRE(verdict.size() == j.samples.size() + j.mutants.size());
    ++grammars;
    for (size_t i = 0; i < j.samples.size(); ++i) {
      INFO(j.name << " sample: " << j.samples[i]);
      CHECK(verdict[i]);
    }
    for (size_t i = 0; i < j.mutants.size(); ++i) {
      INFO(j.name << " mutant: " << j.mutants[i]);
      bool lark_says = verdict[j.samples.size() + i];
      CHECK(j.rt->matches(j.mutants[i]) == lark_says);
      lark_yes += lark_says;
    }
    samples += j.samples.size();
    mutants += j.mutants.size();
  }
  std::string refused_list;
  for (auto& r : refused) refused_list += "\n  " + r;
  WARN("lark oracle: " << grammars << " grammars compared, " << samples << " sampled sentences, " << mutants
                       << " mutants and documents (" << lark_yes << " valid for Lark); " << refused.size()
                       << " grammar(s) refused by Lark itself:" << refused_list << "\n  " << we_refuse
                       << " cfg-vector grammars skipped: they use llguidance extensions we refuse");
  CHECK(grammars >= 15);
  CHECK(samples >= 1500);
}
