// Reading the model description that lib/ builds (NativeModelSpec in bindings.d.ts) into C++.
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/weight_store.h"

namespace gpt::napi {

struct ModelSpec {
  ModelConfig config;
  std::vector<std::string> files;
  std::vector<TensorSpec> tensors;
  std::optional<DType> convert_to;
  // Matmul weights quantized to int8 at load (the CPU backend only; the "int8" dtype option).
  bool int8_matrices = false;
  // compute "bfloat16": matmul weights in AMX tiles (cpu/tiles.h) where the CPU has them.
  bool bf16_compute = false;
  // false: the weights are read into memory, not mapped (the mmap load option).
  bool map_files = true;
  // Set: fill the tensors with random values instead of reading `files`.
  std::optional<uint64_t> random_seed;
  int threads;
  // -1: the CPU backend; otherwise the CUDA device to run on.
  int cuda_device = -1;
  // Blocks in the KV pool (core/kv_layout.h).
  int64_t kv_blocks = 1;
};

// Throws Napi::TypeError naming the field that is missing or of the wrong type.
ModelSpec read_model_spec(const Napi::Object& spec);

// Helpers shared by the bindings: a field of an object, checked.
double number_field(const Napi::Object& obj, const char* key);
std::string string_field(const Napi::Object& obj, const char* key);

}  // namespace gpt::napi
