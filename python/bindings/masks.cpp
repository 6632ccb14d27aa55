// tollgate._core masks: takes compiled grammars, token ids and caller-owned arrays (numpy or torch CPU, no
// copies, tensor.hpp); gives Matcher (per-sequence state, bitmask rows) and apply_token_bitmask_inplace
// (float32 / float16 / bfloat16 logits, 1-D or batch × vocab, padding columns masked). The GIL is released
// while C++ computes; argument errors are ValueErrors that name the expected shape.
#include <pybind11/stl.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "tensor.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;

namespace tollgate::python {

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorKind::kInvalidArgument, message); }

// A bitmask argument checked against a vocabulary: rows × words int32, words contiguous.
struct BitmaskRows {
  int32_t* data;
  int64_t rows, words, row_stride;
};

// exact: the rows must have exactly words_needed words (a matcher's bitmask); else at least that many.
BitmaskRows bitmask_rows(const TensorView& b, int64_t words_needed, bool exact) {
  const std::string expected = "an int32 array of shape (batch, " + std::to_string(words_needed) + ") or (" +
                               std::to_string(words_needed) + ",)";
  if (b.dtype != DType::kInt32 || (b.ndim != 1 && b.ndim != 2)) {
    fail("bitmask must be " + expected + " (tollgate.allocate_token_bitmask); got shape " + b.shape_string() + " " +
         b.dtype_name);
  }
  BitmaskRows r{static_cast<int32_t*>(b.data), b.ndim == 2 ? b.shape[0] : 1, b.shape[b.ndim - 1],
                b.ndim == 2 ? b.strides[0] : 0};
  if (r.words < words_needed || (exact && r.words != words_needed)) {
    fail("bitmask must be " + expected + " for this vocabulary; got shape " + b.shape_string());
  }
  if (r.words > 1 && b.strides[b.ndim - 1] != 1) fail("bitmask rows must be contiguous (a row's words adjacent)");
  return r;
}

const char* kFillDoc = R"doc(Write the mask of the tokens allowed next into row `index` of `bitmask`.

bitmask: int32 array of shape (batch, ceil(vocab_size / 32)) or (ceil(vocab_size / 32),), a numpy array
(tollgate.allocate_token_bitmask) or a torch CPU tensor; written in place, no copy. Bit i % 32 of word
i // 32 is set when token i is allowed (the XGrammar / llguidance layout). EOS is allowed exactly when the
text so far is complete; after termination the row is all zero. Releases the GIL while it computes; a mask
the grammar has already computed is copied with the GIL held.)doc";

const char* kApplyDoc = R"doc(Set logits[row, i] to -inf for every token i whose bit is clear, in place.

logits: float32, float16 or bfloat16; numpy array or torch CPU tensor; shape (vocab,) or (batch, vocab),
rows may be strided (e.g. logits[:, -1, :]) but each row must be contiguous. Columns beyond the
bitmask's vocabulary (a model's padded logits) are set to -inf too.
bitmask: int32, shape (batch, words) or (words,) as from allocate_token_bitmask.
indices: rows to mask (bitmask row i masks logits row i); None = every row, and then logits and bitmask
must have the same number of rows.
vocab_size: the vocabulary the bitmask covers; default min(logits width, 32 * words).
Raises ValueError for a wrong dtype or shape. Releases the GIL. Returns None.)doc";

void apply_rows(const TensorView& logits, const BitmaskRows& mask, const std::vector<int64_t>& rows,
                int32_t vocab, int64_t width) {
  const int64_t lstride = logits.ndim == 2 ? logits.strides[0] : 0;
  for (int64_t r : rows) {
    const int32_t* bits = mask.data + r * mask.row_stride;
    if (logits.dtype == DType::kFloat32) {
      float* row = static_cast<float*>(logits.data) + r * lstride;
      apply_token_bitmask(row, bits, vocab);
      std::fill(row + vocab, row + width, -std::numeric_limits<float>::infinity());
    } else {
      const uint16_t neg_inf = logits.dtype == DType::kFloat16 ? kFloat16NegInf : kBFloat16NegInf;
      uint16_t* row = static_cast<uint16_t*>(logits.data) + r * lstride;
      apply_token_bitmask_16bit(row, bits, vocab, neg_inf);
      std::fill(row + vocab, row + width, neg_inf);
    }
  }
}

void apply_inplace(const py::handle& logits_obj, const py::handle& bitmask_obj, const py::handle& indices,
                   std::optional<int64_t> vocab_size) {
  TensorView logits(logits_obj, "logits", /*writable=*/true);
  TensorView bitmask(bitmask_obj, "bitmask", /*writable=*/false);
  if ((logits.ndim != 1 && logits.ndim != 2) ||
      (logits.dtype != DType::kFloat32 && logits.dtype != DType::kFloat16 && logits.dtype != DType::kBFloat16)) {
    fail("logits must be a float32, float16 or bfloat16 array of shape (batch, vocab) or (vocab,); got shape " +
         logits.shape_string() + " " + logits.dtype_name);
  }
  const int64_t width = logits.shape[logits.ndim - 1];
  const int64_t lrows = logits.ndim == 2 ? logits.shape[0] : 1;
  if (width > 1 && logits.strides[logits.ndim - 1] != 1) fail("logits rows must be contiguous (stride 1 in the last dimension)");
  if (bitmask.ndim != 1 && bitmask.ndim != 2) {
    fail("bitmask must be an int32 array of shape (batch, words) or (words,); got shape " + bitmask.shape_string());
  }
  const int64_t bwords = bitmask.shape[bitmask.ndim - 1];
  const int64_t v = vocab_size ? *vocab_size : std::min<int64_t>(width, bwords * 32);
  if (v < 0 || v > width || v > std::numeric_limits<int32_t>::max()) {
    fail("vocab_size " + std::to_string(v) + " does not fit logits of width " + std::to_string(width));
  }
  const BitmaskRows mask = bitmask_rows(bitmask, bitmask_words(static_cast<int32_t>(v)), /*exact=*/false);
  std::vector<int64_t> rows;
  if (indices.is_none()) {
    if (mask.rows != lrows) {
      fail("bitmask must have one row per logits row: shape (" + std::to_string(lrows) + ", " + std::to_string(bwords) +
           ") for logits of shape " + logits.shape_string() + "; got " + bitmask.shape_string() +
           " (or pass indices=)");
    }
    rows.resize(lrows);
    for (int64_t r = 0; r < lrows; ++r) rows[r] = r;
  } else {
    for (const py::handle& item : py::iter(indices)) {
      py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
      if (!index) throw py::error_already_set();
      const int64_t r = index.cast<int64_t>();
      if (r < 0 || r >= lrows || r >= mask.rows) {
        fail("index " + std::to_string(r) + " is outside logits " + logits.shape_string() + " or bitmask " +
             bitmask.shape_string());
      }
      rows.push_back(r);
    }
  }
  py::gil_scoped_release release;
  apply_rows(logits, mask, rows, static_cast<int32_t>(v), width);
}

// Runs f on the matcher with the GIL released and the matcher's lock held (unlocked before the GIL is taken back).
template <class F>
auto run_unlocked(const PyMatcher& mt, F&& f) {
  py::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(mt.mutex);
  return f();
}

std::string utf8_whole_chars(const std::string& s) {
  // Drops an incomplete UTF-8 sequence at the end (jump-forward may stop inside a character).
  size_t end = s.size(), i = s.size();
  int back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++back;
  if (i > 0) {
    const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
    const int len = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
    if (len > back + 1) end = i - 1;
  }
  return s.substr(0, end);
}

}  // namespace

void bind_masks(py::module_& m) {
  py::class_<PyMatcher>(m, "Matcher", R"doc(The per-sequence state of a CompiledGrammar: which tokens may come next.

Matcher(compiled_grammar, max_rollback_tokens=64). Cheap to create; one per sequence being generated.
Methods that compute release the GIL (accept_token, about a µs, keeps it); a matcher used by two threads
at once serialises them.)doc")
      .def(py::init([](std::shared_ptr<CompiledGrammar> g, int max_rollback) {
             if (!g) fail("compiled_grammar must not be None");
             if (max_rollback < 0) fail("max_rollback_tokens must be >= 0");
             return std::make_unique<PyMatcher>(std::const_pointer_cast<const CompiledGrammar>(g), max_rollback);
           }),
           py::arg("compiled_grammar"), py::arg("max_rollback_tokens") = 64,
           "A matcher at the start of compiled_grammar; rollback() can undo up to max_rollback_tokens steps.")
      .def(
          "fill_next_token_bitmask",
          [](const PyMatcher& mt, const py::handle& bitmask_obj, int64_t index) {
            TensorView bitmask(bitmask_obj, "bitmask", /*writable=*/true);
            const BitmaskRows mask = bitmask_rows(bitmask, bitmask_words(mt.grammar->tokenizer().vocab_size()), /*exact=*/true);
            if (index < 0 || index >= mask.rows) {
              fail("index " + std::to_string(index) + " is outside the bitmask of shape " + bitmask.shape_string());
            }
            int32_t* row = mask.data + index * mask.row_stride;
            {
              // A mask the grammar has already computed is a copy of a few µs at most: done with the GIL held,
              // since with many threads handing the GIL over costs more than the copy. The lock is only tried,
              // never waited for with the GIL held.
              std::unique_lock<std::mutex> lock(mt.mutex, std::try_to_lock);
              if (lock.owns_lock() && mt.matcher.try_fill_next_token_bitmask_cached(row, 0)) return;
            }
            run_unlocked(mt, [&] { mt.matcher.fill_next_token_bitmask(row, 0); });
          },
          py::arg("bitmask"), py::arg("index") = 0, kFillDoc)
      .def(
          "accept_token",
          [](PyMatcher& mt, int64_t id) {
            check_token_id(mt.grammar->tokenizer(), id);
            {
              // One token through the automaton or the parser: about a µs, done with the GIL held (releasing it
              // made 8 threads of cached fills run at half one thread's speed). Only tried, as in the fill.
              std::unique_lock<std::mutex> lock(mt.mutex, std::try_to_lock);
              if (lock.owns_lock()) return mt.matcher.accept_token(static_cast<int32_t>(id));
            }
            return run_unlocked(mt, [&] { return mt.matcher.accept_token(static_cast<int32_t>(id)); });
          },
          py::arg("token_id"),
          "Consume one token. True when the grammar allows it; False (state unchanged) for a token it does not\n"
          "allow, padding or special ids, EOS before the text is complete, or anything after termination.\n"
          "Raises ValueError for an id outside [0, vocab_size).")
      .def(
          "accept_string",
          [](PyMatcher& mt, const py::object& text) {
            std::string s = py::isinstance<py::bytes>(text) ? std::string(text.cast<py::bytes>()) : text.cast<std::string>();
            return run_unlocked(mt, [&] { return mt.matcher.accept_bytes(s); });
          },
          py::arg("text"),
          "Consume text (str, as UTF-8, or bytes), split anywhere. True when the grammar allows all of it;\n"
          "False (state unchanged) otherwise. Undone by rollback(1).")
      .def(
          "accept_bytes",
          [](PyMatcher& mt, const py::bytes& b) {
            std::string s(b);
            return run_unlocked(mt, [&] { return mt.matcher.accept_bytes(s); });
          },
          py::arg("data"), "Same as accept_string for bytes (kept for older code).")
      .def(
          "rollback",
          [](PyMatcher& mt, int n) {
            if (n < 0) fail("rollback: num_tokens must be >= 0");
            std::lock_guard<std::mutex> lock(mt.mutex);
            mt.matcher.rollback(n);
          },
          py::arg("num_tokens") = 1,
          "Undo the last num_tokens accept_token / accept_string calls. ValueError beyond num_accepted.")
      .def(
          "reset",
          [](PyMatcher& mt) {
            std::lock_guard<std::mutex> lock(mt.mutex);
            mt.matcher.reset();
          },
          "Back to the start of the grammar, history cleared.")
      .def(
          "is_accepting",
          [](const PyMatcher& mt) {
            std::lock_guard<std::mutex> lock(mt.mutex);
            return mt.matcher.is_accepting();
          },
          "True when the text accepted so far is a complete match (EOS would be accepted).")
      .def(
          "is_terminated",
          [](const PyMatcher& mt) {
            std::lock_guard<std::mutex> lock(mt.mutex);
            return mt.matcher.is_terminated();
          },
          "True once EOS has been accepted; no token is allowed after that.")
      .def(
          "find_jump_forward_string",
          [](const PyMatcher& mt) {
            std::string s = run_unlocked(mt, [&] { return mt.matcher.jump_forward(); });
            s = utf8_whole_chars(s);
            return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
          },
          "The text the grammar forces from here (\"\" when the next byte is not forced), as str; an incomplete\n"
          "UTF-8 character at its end is left out (jump_forward() gives the exact bytes). Feed it with\n"
          "accept_string after encoding it.")
      .def(
          "jump_forward",
          [](const PyMatcher& mt) {
            std::string s = run_unlocked(mt, [&] { return mt.matcher.jump_forward(); });
            return py::bytes(s);
          },
          "The bytes the grammar forces from here (b\"\" when none); see find_jump_forward_string.")
      .def(
          "find_jump_forward_tokens",
          [](const PyMatcher& mt, const Encoder& encoder, int max_rollback_tokens) {
            if (max_rollback_tokens < 0) fail("max_rollback_tokens must be >= 0");
            JumpForwardTokens jf =
                run_unlocked(mt, [&] { return mt.matcher.jump_forward_tokens(encoder, max_rollback_tokens); });
            return py::make_tuple(jf.rollback, jf.tokens);
          },
          py::arg("encoder"), py::arg("max_rollback_tokens") = 0,
          "The forced bytes as token ids of `encoder`: (rollback, ids). Take back `rollback` tokens (rollback()\n"
          "here and in the model's sequence), then feed `ids` (accept_token each): the matcher is then where\n"
          "accepting the forced bytes would have put it. The last accepted tokens (at most max_rollback_tokens)\n"
          "are re-encoded with the forced bytes, so the ids are the canonical tokenization across the boundary;\n"
          "with 0 the forced bytes are encoded alone. (0, []) when nothing is forced.")
      .def(
          "set_token_budget",
          [](PyMatcher& mt, std::optional<int> tokens_left) {
            std::lock_guard<std::mutex> lock(mt.mutex);
            const int b = tokens_left.value_or(-1);
            if (b >= 0) {
              const int64_t shortest = mt.matcher.shortest_completion_bytes();
              if (shortest < 0 || shortest > b)
                fail(shortest < 0 ? std::string("set_token_budget: no continuation completes the input")
                                  : "set_token_budget: the shortest completion is " + std::to_string(shortest) +
                                        " bytes, more than the " + std::to_string(b) + " tokens left");
            }
            mt.matcher.set_token_budget(b);
          },
          py::arg("tokens_left"),
          "Length budget: how many tokens may still be generated (EOS not counted); None or -1 turns it off.\n"
          "While set, fill_next_token_bitmask keeps only the tokens after which the shortest completion still\n"
          "fits in the tokens left (counted in bytes: every byte is a token), so generation stopped after\n"
          "tokens_left tokens ends in a complete match. accept_token takes one (accept_string nothing),\n"
          "rollback gives back what it undoes, fork copies it, reset restores it. Raises ValueError when the\n"
          "shortest completion (shortest_completion_bytes()) is already longer than tokens_left.")
      .def_property_readonly(
          "token_budget",
          [](const PyMatcher& mt) -> std::optional<int> {
            std::lock_guard<std::mutex> lock(mt.mutex);
            int b = mt.matcher.token_budget();
            return b < 0 ? std::nullopt : std::optional<int>(b);
          },
          "Tokens left under the length budget (None when off).")
      .def(
          "shortest_completion_bytes",
          [](const PyMatcher& mt) -> std::optional<int64_t> {
            int64_t c = run_unlocked(mt, [&] { return mt.matcher.shortest_completion_bytes(); });
            return c < 0 ? std::nullopt : std::optional<int64_t>(c);
          },
          "Fewest bytes that complete the input so far (0 when complete); None when nothing does.")
      .def_property_readonly(
          "num_accepted",
          [](const PyMatcher& mt) {
            std::lock_guard<std::mutex> lock(mt.mutex);
            return mt.matcher.num_accepted();
          },
          "How many accept calls rollback() can still undo.")
      .def_property_readonly(
          "compiled_grammar", [](const PyMatcher& mt) { return std::const_pointer_cast<CompiledGrammar>(mt.grammar); },
          "The CompiledGrammar this matcher follows.")
      .def(
          "fork",
          [](const PyMatcher& mt) {
            std::lock_guard<std::mutex> lock(mt.mutex);
            return std::make_unique<PyMatcher>(mt);
          },
          "An independent copy in the same state (for beam search or speculative branches).");

  m.def(
      "apply_token_bitmask_inplace",
      [](const py::handle& logits, const py::handle& bitmask, const py::handle& indices,
         std::optional<int64_t> vocab_size) { apply_inplace(logits, bitmask, indices, vocab_size); },
      py::arg("logits"), py::arg("bitmask"), py::arg("indices") = py::none(), py::kw_only(),
      py::arg("vocab_size") = py::none(), kApplyDoc);

  m.def(
      "_native_step_seconds",
      [](PyMatcher& mt, const py::handle& bitmask_obj, const py::handle& logits_obj, int steps) {
        // Benchmark support (scripts/bench-python.py): the C++ part of `steps` fill_next_token_bitmask +
        // apply_token_bitmask_inplace steps on row 0, without Python; returns the thread's CPU seconds per step
        // (mean; CPU time, as the machines these run on are shared).
        TensorView bitmask(bitmask_obj, "bitmask", true);
        TensorView logits(logits_obj, "logits", true);
        const BitmaskRows mask = bitmask_rows(bitmask, bitmask_words(mt.grammar->tokenizer().vocab_size()), /*exact=*/true);
        const int64_t width = logits.shape[logits.ndim - 1];
        const int64_t v = std::min<int64_t>(width, mask.words * 32);
        const std::vector<int64_t> rows{0};
        py::gil_scoped_release release;
        auto cpu_now = [] {
          timespec ts{};
          clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
          return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
        };
        const double t0 = cpu_now();
        for (int i = 0; i < steps; ++i) {
          {
            std::lock_guard<std::mutex> lock(mt.mutex);
            mt.matcher.fill_next_token_bitmask(mask.data, 0);
          }
          apply_rows(logits, mask, rows, static_cast<int32_t>(v), width);
        }
        return steps > 0 ? (cpu_now() - t0) / steps : 0.0;
      },
      py::arg("matcher"), py::arg("bitmask"), py::arg("logits"), py::arg("steps"));
}

}  // namespace tollgate::python
