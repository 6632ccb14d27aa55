// generate: prefill (chunkwise) → [mask ∥ model step] → apply mask → sample → accept → jump-forward,
// until EOS, a terminated grammar or max_tokens (see include/tollgate/generate.hpp).
#include "tollgate/generate.hpp"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "tollgate/error.hpp"
#include "tollgate/matcher.hpp"
#include "tollgate/sampler.hpp"

namespace tollgate {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One background thread that runs one job at a time: start(job) … wait().
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void start(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = std::move(job);
      busy_ = true;
      error_ = nullptr;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !busy_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || (busy_ && job_); });
      if (stop_) return;
      auto job = std::move(job_);
      job_ = nullptr;
      lock.unlock();
      std::exception_ptr err;
      try {
        job();
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      error_ = err;
      busy_ = false;
      cv_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

GenerateResult generate(const RetNet& model, const Encoder& encoder, const CompiledGrammarPtr& grammar,
                        std::string_view prompt, const GenerateOptions& options) {
  const auto t_start = Clock::now();
  const TokenizerInfo& tok = encoder.tokenizer();
  const RetNetConfig& cfg = model.config();
  const int32_t V = cfg.vocab_size;
  const int32_t tok_v = tok.vocab_size();
  if (tok_v > V)
    throw Error(ErrorKind::kInvalidArgument, "the tokenizer has " + std::to_string(tok_v) +
                                                 " ids but the model only " + std::to_string(V));
  if (grammar && grammar->tokenizer().vocab_size() != tok_v)
    throw Error(ErrorKind::kInvalidArgument, "the grammar was compiled for another tokenizer");
  if (options.max_tokens < 0) throw Error(ErrorKind::kInvalidArgument, "max_tokens must be >= 0");
  if (options.prefill_chunk < 1) throw Error(ErrorKind::kInvalidArgument, "prefill_chunk must be >= 1");
  Sampler sampler({options.temperature, options.top_k, options.top_p, options.seed});

  GenerateResult result;
  GenerateStats& stats = result.stats;
  std::vector<int32_t> ids;
  if (options.add_bos) ids.push_back(cfg.bos_id);
  for (int32_t id : encoder.encode(prompt)) ids.push_back(id);
  if (ids.empty()) ids.push_back(cfg.bos_id);  // the model needs one token to predict from
  stats.prompt_tokens = static_cast<int>(ids.size());
  RetNetState state = model.new_state();
  std::vector<float> logits = model.prefill_chunkwise(state, ids, options.prefill_chunk);
  stats.prefill_seconds = since(t_start);

  std::optional<Matcher> matcher;
  std::vector<int32_t> mask(bitmask_words(tok_v));
  if (grammar) matcher.emplace(grammar);
  if (grammar && options.length_budget) {
    const int64_t shortest = matcher->shortest_completion_bytes();
    if (shortest < 0 || shortest > options.max_tokens) {
      result.stop_reason = "budget_too_small";
      result.shortest_bytes = shortest;
      stats.seconds = since(t_start);
      return result;
    }
    matcher->set_token_budget(options.max_tokens);
  }
  auto fill_mask = [&] {
    auto t0 = Clock::now();
    matcher->fill_next_token_bitmask(mask.data());
    stats.mask_seconds += since(t0);
  };
  std::optional<Worker> worker;
  if (grammar && options.overlap_mask) worker.emplace();

  std::vector<int32_t>& out = result.token_ids;
  std::vector<int32_t> feed;  // tokens accepted but not yet run through the model
  // Bytes the grammar forces now: encoded, accepted by the matcher, queued for the model.
  auto jump_forward = [&] {
    if (!grammar || !options.jump_forward) return;
    std::string bytes = matcher->jump_forward();
    if (bytes.empty()) return;
    for (int32_t id : encoder.encode(bytes)) {
      if (static_cast<int>(out.size()) >= options.max_tokens) break;
      if (!matcher->accept_token(id)) break;  // the encoding split the bytes in a way the grammar refuses
      out.push_back(id);
      feed.push_back(id);
      ++stats.forced_tokens;
    }
  };
  jump_forward();
  bool mask_ready = false;
  if (grammar && feed.empty()) {
    fill_mask();
    mask_ready = true;
  }

  for (;;) {
    if (static_cast<int>(out.size()) >= options.max_tokens) {
      result.stop_reason = "max_tokens";
      break;
    }
    if (!feed.empty()) {
      if (grammar && worker) worker->start(fill_mask);
      auto t0 = Clock::now();
      try {
        if (feed.size() == 1) model.step(state, feed[0], logits.data());
        else logits = model.prefill_chunkwise(state, feed, options.prefill_chunk);
      } catch (...) {
        if (worker) worker->wait();
        throw;
      }
      stats.model_seconds += since(t0);
      feed.clear();
      if (grammar && worker) worker->wait();
      else if (grammar) fill_mask();
      mask_ready = grammar != nullptr;
    }
    if (grammar) {
      if (!mask_ready) fill_mask();
      apply_token_bitmask(logits.data(), mask.data(), tok_v);
      mask_ready = false;
    }
    for (int32_t i = tok_v; i < V; ++i) logits[i] = -INFINITY;  // ids the tokenizer does not define
    if (argmax(logits) < 0) {  // nothing allowed: the grammar is at a dead end
      result.stop_reason = "no_allowed_token";
      break;
    }
    const int32_t next = sampler.sample(logits);
    const bool eos = tok.is_eos(next) || next == cfg.eos_id;
    if (grammar && !matcher->accept_token(next))
      throw Error(ErrorKind::kInvalidArgument,
                  "internal: the matcher refused token " + std::to_string(next) + " that its mask allowed");
    if (eos) {
      result.stop_reason = "eos";
      break;
    }
    out.push_back(next);
    feed.push_back(next);
    if (grammar && matcher->is_terminated()) {
      result.stop_reason = "grammar_complete";
      break;
    }
    jump_forward();
  }
  result.grammar_accepting = matcher ? (matcher->is_accepting() || matcher->is_terminated()) : true;
  result.text = encoder.decode(out);
  stats.tokens = static_cast<int>(out.size());
  stats.seconds = since(t_start);
  return result;
}

}  // namespace tollgate
