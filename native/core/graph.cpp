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
  pending_.push_back(Pending{&field, &w, Kind::kPlain});
}

void WeightBinder::table(WeightView& field, const std::string& name, const std::vector<int64_t>& shape) {
  want(field, name, shape);
  pending_.back().kind = Kind::kTable;
}

void WeightBinder::head(WeightView& field, const std::string& name, const std::vector<int64_t>& shape) {
  want(field, name, shape);
  pending_.back().kind = Kind::kHead;
}

void WeightBinder::norm(WeightView& gamma, WeightView& beta, const std::string& name, int64_t width) {
  want(gamma, name + ".weight", {width});
  want(beta, name + ".bias", {width});
}

void WeightBinder::linear(WeightView& w, WeightView& bias, const std::string& name, int64_t in, int64_t out) {
  want(w, name + ".weight", {in, out});
  pending_[pending_.size() - 1].kind = Kind::kMatrix;
  want(bias, name + ".bias", {out});
}

void WeightBinder::bind(Backend& backend, const KvPoolDims& dims) {
  std::vector<const WeightView*> hosts;
  for (const Pending& p : pending_) hosts.push_back(p.host);
  backend.check_fits(hosts, dims);
  // Token tables last: the largest weights, which a backend may hold beside a copy of its own
  // (an int8 head beside the rows the embedding reads) — by then every matrix's stored copy is gone.
  std::vector<const Pending*> order;
  for (const Pending& p : pending_)
    if (p.kind != Kind::kTable && p.kind != Kind::kHead) order.push_back(&p);
  for (const Pending& p : pending_)
    if (p.kind == Kind::kTable || p.kind == Kind::kHead) order.push_back(&p);
  for (const Pending* q : order) {
    const Pending& p = *q;
    *p.field = p.kind == Kind::kMatrix ? backend.adopt_matrix(*p.host)
               : p.kind == Kind::kTable || p.kind == Kind::kHead
                   ? backend.adopt_table(*p.host, p.kind == Kind::kTable,
                                         [&](int64_t first, int64_t count) {
                                           const int64_t row = p.host->shape[1] * int64_t(dtype_size(p.host->dtype));
                                           if (!shared_host(p)) store_.release_part(*p.host, size_t(first * row), size_t(count * row));
                                         })
                                        : backend.adopt(*p.host);
    // A copy in the backend's own layout: the stored bytes can go, one tensor at a time, so that
    // memory holds one copy of the weights — unless another binding still reads them.
    if (p.kind == Kind::kPlain || p.field->data == p.host->data || !p.host->data) continue;
    if (p.field->rows == p.host->data) {
      // The backend still reads the stored rows, a few at a time: the pages packing touched go.
      store_.kept_beside(*p.field);
      store_.evict(*p.host);
    } else if (!shared_host(p)) {
      store_.release(*p.host);
      store_.replaced(*p.host, *p.field);
    }
  }
}

bool WeightBinder::shared_host(const Pending& p) const {
  for (const Pending& q : pending_)
    if (q.host == p.host && q.field != p.field) return true;
  return false;
}

DType WeightBinder::first_dtype() const {
  if (pending_.empty()) throw std::runtime_error("a graph bound no weights");
  return pending_.front().host->dtype;
}

}  // namespace gpt
