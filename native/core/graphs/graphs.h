// The graphs, one per family whose block differs in structure (core/graph.h).
#pragma once
#include <memory>

#include "core/graph.h"

namespace gpt {

std::unique_ptr<Graph> gpt2_graph(const ModelConfig& c, WeightBinder& w);
std::unique_ptr<Graph> opt_graph(const ModelConfig& c, WeightBinder& w);
std::unique_ptr<Graph> bloom_graph(const ModelConfig& c, WeightBinder& w);
std::unique_ptr<Graph> rotary_graph(const ModelConfig& c, WeightBinder& w);

}  // namespace gpt
