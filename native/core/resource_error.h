// The error for memory a load cannot get (the KV pool's address space, free GPU memory), apart
// from errors in the checkpoint itself: lib/ reports it as E_DEVICE, naming the figures, where a
// bad checkpoint is E_CHECKPOINT.
#pragma once
#include <stdexcept>

namespace gpt {

class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gpt
