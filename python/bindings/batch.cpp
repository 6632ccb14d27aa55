// Python face of the serving API in one process: BatchMatcher (a fixed thread pool filling the
// rows of one bitmask for many matchers), and on Matcher the speculative-decoding calls
// validate_tokens and fill_next_token_bitmask_draft. Takes numpy int32 bitmasks (rows of
// ceil(vocab/32) words) and lists of Matchers; the GIL is released while masks are computed.
#include <pybind11/eval.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;

namespace tollgate::python {

namespace {

// Checks that `arr` is a C-contiguous int32 numpy bitmask of rows of bitmask_words(vocab_size) words
// (1-D: one row) holding row `row`; gives the words per row. Throws tollgate::Error.
void check_bitmask_row(const py::array& arr, int64_t row, int32_t vocab_size, int64_t* words_out) {
  if (arr.dtype().kind() != 'i' || arr.itemsize() != 4) {
    throw Error(ErrorKind::kInvalidArgument, "bitmask must be an int32 array");
  }
  if (!(arr.flags() & py::array::c_style)) {
    throw Error(ErrorKind::kInvalidArgument, "bitmask must be C-contiguous");
  }
  const int64_t words = bitmask_words(vocab_size);
  int64_t rows = 1;
  if (arr.ndim() == 2) {
    rows = arr.shape(0);
    if (arr.shape(1) != words) {
      throw Error(ErrorKind::kInvalidArgument,
                  "bitmask has " + std::to_string(arr.shape(1)) + " words per row; this vocabulary needs " +
                      std::to_string(words));
    }
  } else if (arr.ndim() == 1) {
    if (arr.shape(0) != words) {
      throw Error(ErrorKind::kInvalidArgument,
                  "bitmask has " + std::to_string(arr.shape(0)) + " words; this vocabulary needs " +
                      std::to_string(words));
    }
  } else {
    throw Error(ErrorKind::kInvalidArgument, "bitmask must be 1-D or 2-D");
  }
  if (row < 0 || row >= rows) {
    throw Error(ErrorKind::kInvalidArgument, "row " + std::to_string(row) + " is outside the bitmask (" +
                                                 std::to_string(rows) + " rows)");
  }
  *words_out = words;
}

// The matchers of a Python sequence (None allowed: its row is left alone).
std::vector<const Matcher*> matcher_list(const py::sequence& seq) {
  std::vector<const Matcher*> out;
  out.reserve(py::len(seq));
  for (py::handle h : seq) out.push_back(h.is_none() ? nullptr : &h.cast<const PyMatcher&>().matcher);
  return out;
}

void fill_batch(BatchMatcher& pool, const py::sequence& matchers, py::array bitmask,
                const std::optional<std::vector<int64_t>>& indices) {
  std::vector<const Matcher*> ms = matcher_list(matchers);
  if (indices && indices->size() != ms.size())
    throw Error(ErrorKind::kInvalidArgument, "indices has " + std::to_string(indices->size()) + " entries for " +
                                                 std::to_string(ms.size()) + " matchers");
  if (!bitmask.writeable()) throw Error(ErrorKind::kInvalidArgument, "bitmask is read-only");
  for (size_t i = 0; i < ms.size(); ++i) {
    if (!ms[i]) continue;
    int64_t words = 0;
    check_bitmask_row(bitmask, indices ? (*indices)[i] : static_cast<int64_t>(i),
                      ms[i]->grammar().tokenizer().vocab_size(), &words);
  }
  auto* data = static_cast<int32_t*>(bitmask.mutable_data());
  py::gil_scoped_release release;
  pool.fill_next_token_bitmask(ms, data, indices ? std::span<const int64_t>(*indices) : std::span<const int64_t>());
}

}  // namespace

void bind_batch(py::module_& m) {
  py::class_<BatchMatcher>(m, "BatchMatcher",
                           "Fills next-token masks for many matchers into the rows of one bitmask on a fixed thread "
                           "pool (created once, reused by every call).")
      .def(py::init<int>(), py::arg("threads") = 0, "threads: total parallelism including the caller (0 = all cores)")
      .def_property_readonly("threads", &BatchMatcher::threads, "Total parallelism of the pool, the calling thread included.")
      .def(
          "_fill",
          [](BatchMatcher& pool, const py::sequence& matchers, py::array bitmask,
             std::optional<std::vector<int64_t>> indices) { fill_batch(pool, matchers, std::move(bitmask), indices); },
          py::arg("matchers"), py::arg("bitmask"), py::arg("indices") = py::none())
      .def_static("shared", &BatchMatcher::shared, py::return_value_policy::reference,
                  "The process-wide BatchMatcher (min(cores, 8) threads).");
  // fill_next_token_bitmask on an instance uses its pool; on the class
  // (BatchMatcher.fill_next_token_bitmask(matchers, bitmask)) the process-wide one. A Python
  // function binds to instances (a C++ one would not), so it dispatches on its first argument.
  py::dict scope;
  scope["BatchMatcher"] = m.attr("BatchMatcher");
  py::exec(R"(
def fill_next_token_bitmask(*args, **kwargs):
    """fill_next_token_bitmask(matchers, bitmask, indices=None): row i (or indices[i]) of the int32
    bitmask gets matchers[i]'s next-token mask, on this BatchMatcher's threads, or on the
    process-wide pool when called on the class."""
    if args and isinstance(args[0], BatchMatcher):
        return args[0]._fill(*args[1:], **kwargs)
    return BatchMatcher.shared()._fill(*args, **kwargs)
BatchMatcher.fill_next_token_bitmask = fill_next_token_bitmask
)",
           scope);

  auto matcher = py::reinterpret_borrow<py::class_<PyMatcher>>(m.attr("Matcher"));
  matcher
      .def(
          "validate_tokens",
          [](const PyMatcher& pm, const std::vector<int32_t>& tokens) {
            for (int32_t t : tokens) check_token_id(pm.grammar->tokenizer(), t);
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(pm.mutex);
            return pm.matcher.validate_tokens(tokens);
          },
          py::arg("tokens"),
          "How many of `tokens`, in order, would be accepted from here (stops at the first refusal; with a "
          "token budget, also at the first token the budgeted mask at its step excludes); the state is unchanged.")
      .def(
          "fill_next_token_bitmask_draft",
          [](const PyMatcher& pm, const std::vector<int32_t>& draft, py::array bitmask, int64_t index) {
            const Matcher& mt = pm.matcher;
            int64_t words = 0;
            const int32_t vocab = mt.grammar().tokenizer().vocab_size();
            check_bitmask_row(bitmask, index, vocab, &words);
            check_bitmask_row(bitmask, index + static_cast<int64_t>(draft.size()), vocab, &words);
            if (!bitmask.writeable()) throw Error(ErrorKind::kInvalidArgument, "bitmask is read-only");
            auto* data = static_cast<int32_t*>(bitmask.mutable_data());
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(pm.mutex);
            return mt.fill_next_token_bitmask_draft(draft, data, index);
          },
          py::arg("draft"), py::arg("bitmask"), py::arg("index") = 0,
          "Rows index .. index+k get the mask here and after each of the k draft tokens in turn (rows after a "
          "refused token are zero); returns how many draft tokens are accepted. The state is unchanged.");
}

}  // namespace tollgate::python
