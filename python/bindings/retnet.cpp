// tollgate._core: the reference RetNet (three forms, state snapshots), the encoder and the
// constrained generation loop. Logits come back as numpy float32 arrays.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "tollgate/generate.hpp"
#include "tollgate/retnet.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;

namespace tollgate::python {

namespace {

std::vector<int32_t> to_ids(const py::handle& obj) {
  auto arr = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr || arr.ndim() != 1) throw Error(ErrorKind::kInvalidArgument, "token ids must be a 1-D sequence of ints");
  return std::vector<int32_t>(arr.data(), arr.data() + arr.shape(0));
}

py::array_t<float> to_array(std::vector<float> v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>(shape, heap->data(), owner);
}

}  // namespace

void bind_retnet(py::module_& m) {
  py::class_<RetNetState>(m, "RetNetState", "The recurrent state of one RetNet sequence (RetNet.new_state).")
      .def_property_readonly("position", &RetNetState::position, "Tokens consumed so far.")
      .def_property_readonly("memory_bytes", &RetNetState::memory_bytes, "Bytes the state holds.")
      .def("snapshot", &RetNetState::snapshot, "A copy of the state (O(state) bytes).")
      .def("restore", &RetNetState::restore, py::arg("snapshot"), "Go back to a snapshot() of this state.")
      .def("reset", &RetNetState::reset, "Back to the empty state (position 0).");

  py::class_<RetNet, std::shared_ptr<RetNet>>(m, "RetNet", "The reference RetNet language model (parallel, recurrent and chunkwise forms).")
      .def_static(
          "load",
          [](const std::string& path) { return std::const_pointer_cast<RetNet>(RetNet::load(path)); },
          py::arg("path"), "Load a tollgate-retnet-v1 model (a .safetensors file or its folder).")
      .def_property_readonly("config",
                             [](const RetNet& r) {
                               const RetNetConfig& c = r.config();
                               py::dict d;
                               d["vocab_size"] = c.vocab_size;
                               d["d_model"] = c.d_model;
                               d["n_layers"] = c.n_layers;
                               d["n_heads"] = c.n_heads;
                               d["d_ffn"] = c.d_ffn;
                               d["norm_eps"] = c.norm_eps;
                               d["tie_embeddings"] = c.tie_embeddings;
                               d["bos_id"] = c.bos_id;
                               d["eos_id"] = c.eos_id;
                               return d;
                             },
                             "The model's hyper-parameters: vocab_size, d_model, n_layers, n_heads, d_ffn, ...")
      .def_property_readonly("parameter_count", &RetNet::parameter_count, "Number of weights.")
      .def("new_state", &RetNet::new_state, "A fresh RetNetState for this model.")
      .def(
          "forward_parallel",
          [](const RetNet& r, const py::handle& ids) {
            std::vector<int32_t> v = to_ids(ids);
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = r.forward_parallel(v);
            }
            const py::ssize_t vocab = r.config().vocab_size;
            return to_array(std::move(out), {static_cast<py::ssize_t>(v.size()), vocab});
          },
          py::arg("ids"), "Logits for every position, shape (T, vocab), parallel form.")
      .def(
          "step",
          [](const RetNet& r, RetNetState& state, int32_t id) {
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = r.step(state, id);
            }
            return to_array(std::move(out), {static_cast<py::ssize_t>(r.config().vocab_size)});
          },
          py::arg("state"), py::arg("id"), "Recurrent form: consume one token, return the next logits.")
      .def(
          "prefill_chunkwise",
          [](const RetNet& r, RetNetState& state, const py::handle& ids, int chunk) {
            std::vector<int32_t> v = to_ids(ids);
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = r.prefill_chunkwise(state, v, chunk);
            }
            return to_array(std::move(out), {static_cast<py::ssize_t>(out.size())});
          },
          py::arg("state"), py::arg("ids"), py::arg("chunk") = 64,
          "Chunkwise form: consume ids from `state`, return the logits after the last one.");

  py::class_<Encoder, std::shared_ptr<Encoder>>(m, "Encoder", "Text to token ids and back for a TokenizerInfo's tokenizer (BPE, as the tokenizer.json says).")
      .def(py::init([](std::shared_ptr<TokenizerInfo> t) {
             return std::make_shared<Encoder>(std::const_pointer_cast<const TokenizerInfo>(t));
           }),
           py::arg("tokenizer_info"))
      .def(py::init([](const std::string& path) { return std::make_shared<Encoder>(path); }), py::arg("path"))
      .def("encode", &Encoder::encode, py::arg("text"), py::arg("allow_special") = false,
           "Token ids of text; special tokens' text is recognised only with allow_special.")
      .def(
          "decode",
          [](const Encoder& e, const std::vector<int32_t>& ids, bool skip_special) {
            return py::bytes(e.decode(ids, skip_special));
          },
          py::arg("ids"), py::arg("skip_special") = false, "The bytes of the tokens ids.")
      .def_property_readonly(
          "tokenizer_info",
          [](const Encoder& e) { return std::const_pointer_cast<TokenizerInfo>(e.tokenizer_ptr()); },
          "The TokenizerInfo of this encoder's vocabulary.");

  m.def(
      "_generate",
      [](const RetNet& model, const Encoder& encoder, std::shared_ptr<CompiledGrammar> grammar,
         const std::string& prompt, int max_tokens, float temperature, float top_p, int top_k, uint64_t seed,
         bool jump_forward, bool length_budget) {
        GenerateOptions opt;
        opt.length_budget = length_budget;
        opt.max_tokens = max_tokens;
        opt.temperature = temperature;
        opt.top_p = top_p;
        opt.top_k = top_k;
        opt.seed = seed;
        opt.jump_forward = jump_forward;
        GenerateResult r;
        {
          py::gil_scoped_release release;
          r = generate(model, encoder, std::const_pointer_cast<const CompiledGrammar>(grammar), prompt, opt);
        }
        py::dict stats;
        stats["tokens"] = r.stats.tokens;
        stats["forced_tokens"] = r.stats.forced_tokens;
        stats["prompt_tokens"] = r.stats.prompt_tokens;
        stats["seconds"] = r.stats.seconds;
        stats["prefill_seconds"] = r.stats.prefill_seconds;
        stats["mask_seconds"] = r.stats.mask_seconds;
        stats["model_seconds"] = r.stats.model_seconds;
        py::dict out;
        out["text"] = py::bytes(r.text);
        out["token_ids"] = r.token_ids;
        out["stats"] = stats;
        out["stop_reason"] = r.stop_reason;
        out["grammar_accepting"] = r.grammar_accepting;
        out["shortest_bytes"] = r.shortest_bytes;
        return out;
      },
      py::arg("model"), py::arg("encoder"), py::arg("grammar"), py::arg("prompt"), py::arg("max_tokens"),
      py::arg("temperature"), py::arg("top_p"), py::arg("top_k"), py::arg("seed"), py::arg("jump_forward"),
      py::arg("length_budget") = true);
}

}  // namespace tollgate::python
