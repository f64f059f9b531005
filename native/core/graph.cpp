#include "core/graph.h"

#include <stdexcept>

namespace gpt {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

void WeightBinder::want(WeightView& field, const std::string& name, const std::vector<int64_t>& shape) {
  const WeightView& w = store_.get(name);
  if (w.shape != shape)
    throw std::runtime_error("tensor " + name + " has shape " + shape_text(w.shape) + ", the config implies " +
                             shape_text(shape));
  pending_.push_back(Pending{&field, &w, false});
}

void WeightBinder::norm(WeightView& gamma, WeightView& beta, const std::string& name, int64_t width) {
  want(gamma, name + ".weight", {width});
  want(beta, name + ".bias", {width});
}

void WeightBinder::linear(WeightView& w, WeightView& bias, const std::string& name, int64_t in, int64_t out) {
  want(w, name + ".weight", {in, out});
  pending_.back().matrix = true;
  want(bias, name + ".bias", {out});
}

void WeightBinder::bind(Backend& backend, const KvPoolDims& dims) {
  std::vector<const WeightView*> hosts;
  for (const Pending& p : pending_) hosts.push_back(p.host);
  backend.check_fits(hosts, dims);
  for (const Pending& p : pending_) {
    *p.field = p.matrix ? backend.adopt_matrix(*p.host) : backend.adopt(*p.host);
    // A copy in the backend's own layout: the stored bytes can go, one tensor at a time, so that
    // memory holds one copy of the weights — unless another binding still reads them.
    bool shared = false;
    for (const Pending& q : pending_) shared = shared || (q.host == p.host && q.field != p.field);
    if (p.matrix && p.field->data != p.host->data && !shared && p.host->data) store_.release(*p.host);
  }
}

DType WeightBinder::first_dtype() const {
  if (pending_.empty()) throw std::runtime_error("a graph bound no weights");
  return pending_.front().host->dtype;
}

}  // namespace gpt
