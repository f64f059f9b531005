#include "core/model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace gpt {

Model::Model(const ModelConfig& config, std::unique_ptr<WeightStore> weights, std::unique_ptr<Backend> backend,
             int64_t kv_blocks)
    : config_(config), weights_(std::move(weights)), backend_(std::move(backend)), kv_blocks_(kv_blocks) {
  if (kv_blocks < 1) throw std::runtime_error("the KV pool needs at least one block");
  if (config.n_kv_head < 1 || config.head_dim < 1 || config.n_head % config.n_kv_head != 0)
    throw std::runtime_error("n_head " + std::to_string(config.n_head) + " is not a multiple of n_kv_head " +
                             std::to_string(config.n_kv_head) + ", or head_dim " + std::to_string(config.head_dim) +
                             " is not positive");
  if (int64_t(config.attention.size()) != config.n_layer)
    throw std::runtime_error("the config gives attention for " + std::to_string(config.attention.size()) +
                             " layers, not n_layer " + std::to_string(config.n_layer));
  WeightBinder binder(*weights_);
  graph_ = make_graph(config, binder);
  const KvPoolDims dims{config.n_layer, config.n_head, config.n_kv_head, config.head_dim,
                        kv_blocks,      config.n_ctx,  binder.first_dtype()};
  binder.bind(*backend_, dims);
  backend_->allocate_kv_pool(dims);
  bool alibi = false;
  int64_t rotary_dims = 0;
  for (const AttentionSpec& spec : config.attention) {
    alibi = alibi || spec.alibi;
    if (spec.rotary_dims % 2 != 0 || spec.rotary_dims > config.head_dim ||
        (rotary_dims > 0 && spec.rotary_dims > 0 && spec.rotary_dims != rotary_dims))
      throw std::runtime_error("rotary_dims " + std::to_string(spec.rotary_dims) +
                               " must be even, at most head_dim and the same in every rotating layer");
    rotary_dims = std::max(rotary_dims, spec.rotary_dims);
  }
  if (int64_t(config.rope_inv_freq.size()) != rotary_dims / 2)
    throw std::runtime_error("the config gives " + std::to_string(config.rope_inv_freq.size()) +
                             " rotary frequencies for rotary_dims " + std::to_string(rotary_dims));
  backend_->set_attention(
      AttentionSetup{config.attention, alibi ? alibi_slopes(config.n_head) : std::vector<float>(), config.rope_inv_freq});
}

namespace {

int64_t blocks_for(int64_t positions) { return (positions + kKvBlockSize - 1) / kKvBlockSize; }

}  // namespace

void Model::check_plan(const StepPlan& plan) const {
  const ModelConfig& c = config_;
  if (plan.segments.empty()) throw std::invalid_argument("a step needs at least one segment");
  // Which segment writes each block this step: a block may be written by one segment only, and
  // read by no other (a shared prefix block is never written).
  std::unordered_map<int32_t, size_t> writer;
  int64_t rows = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const SegmentPlan& seg = plan.segments[i];
    const std::string name = "segment " + std::to_string(i);
    if (seg.rows < 1) throw std::invalid_argument(name + " has no rows");
    if (seg.start < 0) throw std::invalid_argument(name + " starts at negative position " + std::to_string(seg.start));
    const int64_t end = seg.start + seg.rows;
    if (end > c.n_ctx)
      throw std::invalid_argument(name + ": positions up to " + std::to_string(end) + " exceed n_positions " +
                                  std::to_string(c.n_ctx));
    const int64_t needed = blocks_for(end);
    if (int64_t(seg.blocks.size()) < needed)
      throw std::invalid_argument(name + ": a block table of " + std::to_string(seg.blocks.size()) +
                                  " blocks does not cover positions up to " + std::to_string(end) + " (needs " +
                                  std::to_string(needed) + ")");
    for (int64_t j = 0; j < needed; ++j) {
      const int32_t b = seg.blocks[size_t(j)];
      if (b < 0 || b >= kv_blocks_)
        throw std::invalid_argument(name + ": block " + std::to_string(b) + " is outside the pool of " +
                                    std::to_string(kv_blocks_) + " blocks");
    }
    for (int64_t j = seg.start / kKvBlockSize; j < needed; ++j) {
      const auto [at, fresh] = writer.emplace(seg.blocks[size_t(j)], i);
      if (!fresh && at->second != i)
        throw std::invalid_argument("block " + std::to_string(at->first) + " is written by segments " +
                                    std::to_string(at->second) + " and " + std::to_string(i));
    }
    rows += seg.rows;
  }
  if (rows != int64_t(plan.tokens.size()))
    throw std::invalid_argument("the segments cover " + std::to_string(rows) + " rows but the step has " +
                                std::to_string(plan.tokens.size()) + " tokens");
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const SegmentPlan& seg = plan.segments[i];
    for (int64_t j = 0; j < blocks_for(seg.start + seg.rows); ++j) {
      const auto at = writer.find(seg.blocks[size_t(j)]);
      if (at != writer.end() && at->second != i)
        throw std::invalid_argument("block " + std::to_string(at->first) + " is written by segment " +
                                    std::to_string(at->second) + " and read by segment " + std::to_string(i));
    }
  }
  for (const int32_t id : plan.tokens)
    if (id < 0 || id >= c.vocab_size)
      throw std::invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary of " +
                                  std::to_string(c.vocab_size));
}

void Model::run(const int32_t* tokens, int64_t rows, const std::vector<int32_t>& logit_rows) {
  Backend& b = *backend_;
  const int64_t C = config_.n_embd;
  float* x = b.buffer(Slot::kResidual, size_t(rows * C));
  graph_->body(b, tokens, rows, x);
  const int64_t n = int64_t(logit_rows.size());
  if (n == 0) return;
  // Only the rows whose logits were asked for go through the head.
  const float* last = x;
  bool every_row = n == rows;
  for (int64_t i = 0; every_row && i < n; ++i) every_row = logit_rows[size_t(i)] == i;
  if (!every_row) {
    float* picked = b.buffer(Slot::kLogitRows, size_t(n * C));
    b.gather_rows(x, C, logit_rows.data(), n, picked);
    last = picked;
  }
  graph_->head(b, last, n, b.buffer(Slot::kLogits, size_t(n * config_.vocab_size)));
}

StepOutput Model::step(const StepPlan& plan) {
  check_plan(plan);
  const int64_t V = config_.vocab_size;
  const int64_t real = int64_t(plan.tokens.size());
  bool decode = true;
  for (const SegmentPlan& seg : plan.segments) decode = decode && seg.rows == 1;
  const int64_t rows = decode ? std::max(real, backend_->decode_rows_padded(real)) : real;

  // The step's layout: each row's position and block table; padding rows (decode steps a
  // recording backend rounds up) run token 0 at position 0 in the scratch block, which is
  // one past the pool's last block and belongs to no sequence.
  std::vector<int32_t> tokens = plan.tokens, tables;
  std::vector<int32_t> positions(static_cast<size_t>(rows), 0), table_starts(static_cast<size_t>(rows), 0);
  // The rows the LM head runs on; each segment's first and last row among them (−1: none).
  std::vector<int32_t> logit_rows;
  std::vector<int64_t> first_logit(plan.segments.size(), -1), last_logit(plan.segments.size(), -1);
  int64_t row = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const SegmentPlan& seg = plan.segments[i];
    const int32_t table = int32_t(tables.size());
    tables.insert(tables.end(), seg.blocks.begin(), seg.blocks.begin() + blocks_for(seg.start + seg.rows));
    for (int64_t t = 0; t < seg.rows; ++t, ++row) {
      positions[size_t(row)] = int32_t(seg.start + t);
      table_starts[size_t(row)] = table;
      const bool last = t == seg.rows - 1;
      // A decode step runs the LM head on every row, so that a recorded step's shape is fixed.
      if (decode || seg.logits == LogitsMode::kAll || (last && (seg.logits == LogitsMode::kLast || seg.sample))) {
        if (first_logit[i] < 0) first_logit[i] = int64_t(logit_rows.size());
        if (last) last_logit[i] = int64_t(logit_rows.size());
        logit_rows.push_back(int32_t(row));
      }
    }
  }
  if (rows > real) {
    const int32_t scratch = int32_t(tables.size());
    tables.push_back(int32_t(kv_blocks_));
    tokens.resize(size_t(rows), 0);
    for (int64_t r = real; r < rows; ++r) {
      table_starts[size_t(r)] = scratch;
      logit_rows.push_back(int32_t(r));
    }
  }

  backend_->begin_step(
      StepLayout{rows, tokens.data(), positions.data(), table_starts.data(), tables.data(), int64_t(tables.size())});
  if (decode)
    backend_->run_decode_step(rows, [&] { run(tokens.data(), rows, logit_rows); });
  else
    run(tokens.data(), rows, logit_rows);

  StepOutput out;
  out.sampled.assign(plan.segments.size(), Sampled{-1, 0.0f, 0, {}, {}});
  if (logit_rows.empty()) return out;
  const float* logits = backend_->buffer(Slot::kLogits, logit_rows.size() * size_t(V));
  std::vector<SampleRequest> requests;
  std::vector<int32_t> sample_rows;
  std::vector<size_t> sample_segments;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const SegmentPlan& seg = plan.segments[i];
    if (seg.logits != LogitsMode::kNone) {
      const int64_t first = seg.logits == LogitsMode::kAll ? first_logit[i] : last_logit[i];
      const int64_t count = last_logit[i] - first + 1;
      const size_t at = out.logits.size();
      out.logits.resize(at + size_t(count * V));
      backend_->read(logits + first * V, size_t(count * V), out.logits.data() + at);
    }
    if (seg.sample) {
      requests.push_back(*seg.sample);
      sample_rows.push_back(int32_t(last_logit[i]));
      sample_segments.push_back(i);
    }
  }
  if (!requests.empty()) {
    std::vector<Sampled> picked(requests.size());
    backend_->sample(logits, V, sample_rows.data(), requests.data(), int64_t(requests.size()), picked.data());
    for (size_t k = 0; k < picked.size(); ++k) out.sampled[sample_segments[k]] = picked[k];
  }
  return out;
}

}  // namespace gpt
