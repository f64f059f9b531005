// A family's network, written once against the Backend op set (one file per family in
// native/core/graphs/): the weights it binds by name and shape at load, and its forward pass over
// a step's rows. core/model.cpp plans steps and runs whichever graph the config names.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/model_config.h"
#include "core/weight_store.h"

namespace gpt {

// Collects a graph's weights: each is checked against the shape the config implies when it is
// asked for, and adopted by the backend (uploaded to a GPU) only once every one has been checked
// and the backend has said they fit, so a model that will not fit fails before any upload.
class WeightBinder {
 public:
  explicit WeightBinder(WeightStore& store) : store_(store) {}
  // Binds `field` to the stored tensor `name`; std::runtime_error when its shape is not `shape`.
  void want(WeightView& field, const std::string& name, const std::vector<int64_t>& shape);
  // A LayerNorm's `name`.weight and `name`.bias, each [width].
  void norm(WeightView& gamma, WeightView& beta, const std::string& name, int64_t width);
  // A token table [vocab, C] that embed() and lm_head() read (adopted as one: Backend::adopt_table).
  void table(WeightView& field, const std::string& name, const std::vector<int64_t>& shape);
  // An untied head's table [vocab, C]: lm_head() alone reads it.
  void head(WeightView& field, const std::string& name, const std::vector<int64_t>& shape);
  // A matmul's `name`.weight [in, out] (adopted as a matrix: Backend::adopt_matrix) and
  // `name`.bias [out].
  void linear(WeightView& w, WeightView& bias, const std::string& name, int64_t in, int64_t out);
  // check_fits with every weight and the KV pool, then adopt each into its field; a matrix the
  // backend copied into a layout of its own has its stored bytes released.
  void bind(Backend& backend, const KvPoolDims& dims);
  DType first_dtype() const;

 private:
  enum class Kind { kPlain, kMatrix, kTable, kHead };
  struct Pending {
    WeightView* field;
    const WeightView* host;
    Kind kind;
  };
  // Whether another binding than p reads p's stored tensor.
  bool shared_host(const Pending& p) const;

  WeightStore& store_;
  std::vector<Pending> pending_;
};

class Graph {
 public:
  virtual ~Graph() = default;
  // The embeddings and blocks over `rows` rows (tokens at the positions begin_step laid out):
  // leaves each row's final hidden state, [rows, n_embd], in `x`.
  virtual void body(Backend& b, const int32_t* tokens, int64_t rows, float* x) = 0;
  // The head over `n` rows of final hidden states: the final norm and projection a family has,
  // then the LM head, writing [n, vocab_size] logits.
  virtual void head(Backend& b, const float* x, int64_t n, float* logits) = 0;
};

// The graph `config.graph` names, its weights asked of `weights` (graphs/graphs.cpp).
std::unique_ptr<Graph> make_graph(const ModelConfig& config, WeightBinder& weights);

}  // namespace gpt
