// Tests of the byte-level BPE Encoder (engine/encoder.cpp).
// Agreement with the reference JS tokenizer (@lenml/tokenizers 3.7.2, fixtures in tests/data/encoder/,
// made by tests/node/make-encoder-fixtures.mjs) on Llama-3, Qwen3 and GPT-4o, the Llama-3 ids stored in
// the MaskBench corpus, and small hand-made tokenizers for the BPE rules.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "test_support.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/error.hpp"
#include "tollgate/vocabulary.hpp"

using tollgate::Encoder;
using tollgate::Error;
using tollgate::ErrorKind;
using tollgate::TokenizerInfo;
using Json = nlohmann::json;

namespace {

std::filesystem::path fixture_dir() {
  return std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests" / "data" / "encoder";
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < ids.size(); ++i) os << (i ? "," : "") << ids[i];
  os << "]";
  return os.str();
}

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  FAIL("no tollgate::Error thrown");
  return ErrorKind::kModel;
}

void check_agreement(const std::string& name) {
  TOLLGATE_DATA_OR_SKIP(data_path, "tokenizers/" + (name == "retnet" ? "llama3" : name) + "/tokenizer.json");
  // The reference model's tokenizer ships with the repository; the texts still come from the data.
  const std::filesystem::path path =
      name == "retnet" ? std::filesystem::path(TOLLGATE_SOURCE_DIR) / "models/retnet/tokenizer.json" : data_path;
  Json texts = Json::parse(tollgate::testing::read_file(fixture_dir() / "texts.json"))["texts"];
  Json ref = Json::parse(tollgate::testing::read_file(fixture_dir() / (name + ".json")));
  REQUIRE(ref["ids"].size() == texts.size());
  REQUIRE(texts.size() >= 2000);
  Encoder enc(path.string());
  size_t agree = 0, roundtrip = 0;
  std::ostringstream diffs;
  int listed = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string text = texts[i]["text"].get<std::string>();
    std::vector<int32_t> expected = ref["ids"][i].get<std::vector<int32_t>>();
    std::vector<int32_t> got = enc.encode(text);
    if (got == expected) ++agree;
    else if (listed++ < 20)
      diffs << "  #" << i << " (" << texts[i]["kind"].get<std::string>() << ") " << Json(text).dump()
            << "\n    tollgate  " << ids_text(got) << "\n    reference " << ids_text(expected) << "\n";
    if (enc.decode(got) == text) ++roundtrip;
  }
  double rate = static_cast<double>(agree) / texts.size();
  std::cout << "[encoder] " << name << ": " << agree << "/" << texts.size() << " texts agree with "
            << ref["reference"].get<std::string>() << " (" << rate * 100 << "%)\n"
            << diffs.str();
  CHECK(roundtrip == texts.size());
  CHECK(rate >= 0.999);
}

// A tiny byte-level BPE tokenizer: a, b, c, d, space ("Ġ"), merged tokens, and added tokens.
std::string tiny_tokenizer(const std::string& merges, const std::string& pre_tokenizer = "null") {
  return R"({"added_tokens": [{"id": 10, "content": "<|end|>", "special": true},
                              {"id": 11, "content": "<tag>", "special": false}],
    "normalizer": null, "pre_tokenizer": )" + pre_tokenizer + R"(,
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "d": 3, "\u0120": 4, "ab": 5, "bc": 6,
                                       "abc": 7, "\u0120a": 8, "<": 9},
              "merges": )" + merges + "}}";
}

}  // namespace

TEST_CASE("encoder agrees with the reference on Llama-3", "[encoder]") { check_agreement("llama3"); }
TEST_CASE("encoder agrees with the reference on Qwen3", "[encoder]") { check_agreement("qwen3"); }
TEST_CASE("encoder agrees with the reference on GPT-4o", "[encoder]") { check_agreement("gpt4o"); }
TEST_CASE("encoder agrees with the reference on the RetNet's own tokenizer", "[encoder]") {
  check_agreement("retnet");
}

TEST_CASE("encoder reproduces the Llama-3 ids stored in MaskBench", "[encoder]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(corpus, "corpora/maskbench-dev");
  Encoder enc(path.string());
  size_t total = 0, agree = 0;
  std::ostringstream diffs;
  int listed = 0;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(corpus))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    Json doc = Json::parse(tollgate::testing::read_file(f));
    for (const auto& test : doc.value("tests", Json::array())) {
      if (!test.contains("tokens_llama3")) continue;
      auto expected = test["tokens_llama3"].get<std::vector<int32_t>>();
      std::string text = enc.decode(expected);  // == json.dumps(data)
      auto got = enc.encode(text);
      ++total;
      if (got == expected) ++agree;
      else if (listed++ < 10)
        diffs << "  " << f.filename().string() << " " << Json(text).dump().substr(0, 200) << "\n";
    }
  }
  double rate = total ? static_cast<double>(agree) / total : 0;
  std::cout << "[encoder] llama3 maskbench: " << agree << "/" << total << " instances ("
            << rate * 100 << "%)\n"
            << diffs.str();
  CHECK(total > 1000);
  CHECK(rate >= 0.999);
}

TEST_CASE("encoder: special tokens only when allowed, non-special added tokens always", "[encoder]") {
  TOLLGATE_DATA_OR_SKIP(dir, "tokenizers");
  Encoder llama3((dir / "llama3").string());
  auto plain = llama3.encode("a<|eot_id|>b");
  CHECK(plain.size() > 3);
  CHECK(std::find(plain.begin(), plain.end(), 128009) == plain.end());
  CHECK(llama3.decode(plain) == "a<|eot_id|>b");
  auto special = llama3.encode("a<|eot_id|>b", true);
  CHECK(special.size() == 3);
  CHECK(special[1] == 128009);
  CHECK(llama3.decode(special, true) == "ab");
  CHECK(llama3.encode("").empty());
  CHECK(kind_of([&] { llama3.decode({128256}); }) == ErrorKind::kInvalidArgument);

  Encoder qwen3((dir / "qwen3").string());
  auto think = qwen3.encode("<think>\nok</think>");
  CHECK(think.front() == 151667);
  CHECK(think.back() == 151668);
  // NFC: a decomposed "é" (e + U+0301) encodes like the composed one.
  CHECK(qwen3.encode("caf\x65\xCC\x81") == qwen3.encode("caf\xC3\xA9"));
  // Invalid UTF-8 still round-trips byte for byte.
  std::string junk = "ok \xFF\xFE bytes \xC3";
  CHECK(llama3.decode(llama3.encode(junk)) == junk);

  CHECK(kind_of([&] { Encoder e((dir / "llama2").string()); }) == ErrorKind::kUnsupported);
  CHECK(kind_of([&] { Encoder e((dir / "gemma3").string()); }) == ErrorKind::kUnsupported);
}

TEST_CASE("encoder: BPE applies merges by rank, leftmost first", "[encoder]") {
  auto by_rank = TokenizerInfo::from_json(tiny_tokenizer(R"(["b c", "a b", "a bc"])"));
  Encoder e1(by_rank);
  CHECK(e1.encode("abc") == std::vector<int32_t>{7});     // b+c first, then a+bc
  CHECK(e1.encode("abcab") == std::vector<int32_t>{7, 5});
  auto other = TokenizerInfo::from_json(tiny_tokenizer(R"([["a", "b"], ["b", "c"]])"));
  Encoder e2(other);
  CHECK(e2.encode("abc") == std::vector<int32_t>{5, 2});  // a+b first; "ab c" is no merge
  CHECK(e2.encode("bbc") == std::vector<int32_t>{1, 6});
  CHECK(e2.encode("d<tag>d") == std::vector<int32_t>{3, 11, 3});       // non-special added token
  CHECK(e2.encode("<|end|>") != std::vector<int32_t>{10});            // special: not matched...
  CHECK(e2.encode("<|end|>", true) == std::vector<int32_t>{10});      // ...unless allowed
  // GPT-2 style pre-tokenizer: " a" is one pre-token.
  auto gpt2 = TokenizerInfo::from_json(
      tiny_tokenizer(R"(["a b", "\u0120 a"])", R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})"));
  Encoder e3(gpt2);
  CHECK(e3.encode("ab a") == std::vector<int32_t>{5, 8});
  auto prefix = TokenizerInfo::from_json(
      tiny_tokenizer(R"(["a b", "\u0120 a"])", R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": false})"));
  CHECK(Encoder(prefix).encode("a") == std::vector<int32_t>{8});

  // Vocabularies without BPE material are refused.
  auto raw = TokenizerInfo::from_tokens({"a", "b"}, {});
  CHECK(kind_of([&] { Encoder e(raw); }) == ErrorKind::kUnsupported);
  CHECK(kind_of([&] { Encoder e(std::string("/nonexistent/tokenizer.json")); }) == ErrorKind::kIo);
}

TEST_CASE("encoder is safe to share between threads", "[encoder]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama3/tokenizer.json");
  Json texts = Json::parse(tollgate::testing::read_file(fixture_dir() / "texts.json"))["texts"];
  Encoder enc(path.string());
  std::vector<std::vector<int32_t>> serial;
  for (size_t i = 0; i < 200; ++i) serial.push_back(enc.encode(texts[i]["text"].get<std::string>()));
  Encoder fresh(path.string());
  std::vector<std::vector<int32_t>> a(200), b(200);
  std::thread t1([&] {
    for (size_t i = 0; i < 200; ++i) a[i] = fresh.encode(texts[i]["text"].get<std::string>());
  });
  std::thread t2([&] {
    for (size_t i = 200; i-- > 0;) b[i] = fresh.encode(texts[i]["text"].get<std::string>());
  });
  t1.join();
  t2.join();
  CHECK(a == serial);
  CHECK(b == serial);
}

TEST_CASE("encoder: a RetNet-style tokenizer (Split regex + ByteLevel, all 256 bytes)", "[encoder]") {
  // Byte-level vocabulary: the 256 single bytes (GPT-2 map) at ids 1..256, then merged tokens.
  auto byte_char = [](int b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    static int extra_of[256];
    static bool init = false;
    if (!init) {
      int extra = 0;
      for (int x = 0; x < 256; ++x) {
        bool p = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
        extra_of[x] = p ? -1 : extra++;
      }
      init = true;
    }
    int cp = printable ? b : 256 + extra_of[b];
    std::string s;
    if (cp < 0x80) s.push_back(static_cast<char>(cp));
    else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return s;
  };
  Json vocab = Json::object();
  vocab["<|endoftext|>"] = 0;
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b + 1;
  std::string sp = byte_char(' ');
  vocab[sp + "t"] = 257;
  vocab["he"] = 258;
  vocab[sp + "the"] = 259;
  Json tok = {
      {"added_tokens", {{{"id", 0}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {sp + " t", "h e", sp + "t he"}}}}};
  auto info = TokenizerInfo::from_json(tok.dump(), R"({"eos_token": "<|endoftext|>"})");
  CHECK(info->eos_ids() == std::vector<int32_t>{0});
  CHECK(info->token_bytes(259) == " the");
  Encoder enc(info);
  CHECK(enc.encode(" the the") == std::vector<int32_t>{259, 259});
  CHECK(enc.encode("the") == std::vector<int32_t>{'t' + 1, 258});
  CHECK(enc.encode("x<|endoftext|>", true) == std::vector<int32_t>{'x' + 1, 0});
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  CHECK(enc.decode(enc.encode(all)) == all);
}
