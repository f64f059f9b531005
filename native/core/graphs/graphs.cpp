#include "core/graphs/graphs.h"

#include <stdexcept>

namespace gpt {

std::unique_ptr<Graph> make_graph(const ModelConfig& config, WeightBinder& weights) {
  switch (config.graph) {
    case GraphKind::kGpt2: return gpt2_graph(config, weights);
    case GraphKind::kOpt: return opt_graph(config, weights);
    case GraphKind::kBloom: return bloom_graph(config, weights);
    case GraphKind::kRotary: return rotary_graph(config, weights);
  }
  throw std::runtime_error("unknown graph");
}

}  // namespace gpt
