// A loaded model: its weights, a backend, and the graph of its family (core/graph.h) that runs on it.
//
// The model runs engine steps: one forward pass over the rows of several sequences at once
// (decode rows and prefill chunks, as lib/engine's scheduler plans them). Keys and values persist
// in the backend's paged KV pool, where each sequence's block table says which blocks hold its
// positions, so a sequence's next step runs only its new tokens. Every op computes a row with a
// reduction order that depends on nothing but that row (its inputs, its position, its cached
// keys): a sequence's logits are bit-identical whatever else shares its step.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/backend.h"
#include "core/graph.h"
#include "core/model_config.h"
#include "core/weight_store.h"

namespace gpt {

enum class LogitsMode { kAll, kLast, kNone };

// One sequence's share of a step: `rows` consecutive tokens of the step, at positions
// start … start + rows − 1. Positions below `start` must already be in the blocks (computed by
// earlier steps, or shared from the prefix cache).
struct SegmentPlan {
  int64_t rows = 0;
  int64_t start = 0;
  // The sequence's block table: blocks[i] holds positions 16i … 16i + 15. It must cover
  // start + rows positions; the blocks this segment writes must not appear in another
  // segment's table.
  std::vector<int32_t> blocks;
  LogitsMode logits = LogitsMode::kNone;
  // Pick the next token from the last row's logits.
  std::optional<SampleRequest> sample;
};

struct StepPlan {
  std::vector<int32_t> tokens;  // every row, each segment's rows consecutive, in segment order
  std::vector<SegmentPlan> segments;
};

struct StepOutput {
  // The rows each segment asked for (all, last or none), in segment order, vocab_size each.
  std::vector<float> logits;
  // Per segment: the picked token and its logprob; token −1 where no pick was asked for.
  std::vector<Sampled> sampled;
};

class Model {
 public:
  // Builds the config's graph, which checks every tensor's shape against the config
  // (std::runtime_error naming the tensor), and allocates a KV pool of `kv_blocks` blocks.
  Model(const ModelConfig& config, std::unique_ptr<WeightStore> weights, std::unique_ptr<Backend> backend,
        int64_t kv_blocks);

  const ModelConfig& config() const { return config_; }
  Backend& backend() { return *backend_; }
  const WeightStore& weights() const { return *weights_; }
  int64_t kv_blocks() const { return kv_blocks_; }

  // Runs one step. Throws std::invalid_argument, naming the segment and the value, for an id
  // outside the vocabulary, a position past n_positions, a block table that is short or names a
  // block outside the pool, or a block written by one segment and read by another.
  StepOutput step(const StepPlan& plan);

 private:
  void check_plan(const StepPlan& plan) const;
  // The graph's body on `rows` rows laid out by the backend's current step; then its head on
  // `logit_rows` (host indices), leaving their logits in the kLogits buffer.
  void run(const int32_t* tokens, int64_t rows, const std::vector<int32_t>& logit_rows);

  ModelConfig config_;
  std::unique_ptr<WeightStore> weights_;
  std::unique_ptr<Backend> backend_;
  int64_t kv_blocks_;
  std::unique_ptr<Graph> graph_;
};

}  // namespace gpt
