#pragma once

#include <vector>

#include <executorch/runtime/core/result.h>

#include <executorch/runtime/core/evalue.h>

#include "engine_runtime.h"

namespace executorch_tensorrt {

// Checks one execute()'s arguments against the engine metadata, sizes the
// outputs and runs the engine. It holds no engine: with deferred
// initialization the engine is created at the first valid call and may be
// released and recreated later (offload). Scratch space is sized once at construction so
// the steady-state call does not allocate.
class DelegateExecutor {
 public:
  explicit DelegateExecutor(const EngineMetadata& metadata);

  // `args` holds the delegate's inputs then outputs, in metadata order. The
  // arguments are checked first; only a valid call asks `source` for the
  // engine.
  Error execute(EngineSource& source, Span<executorch::runtime::EValue*> args);

 private:
  Error check_argument_count(size_t count) const;
  Error bind_input(size_t index, executorch::runtime::EValue* arg);
  Result<uint32_t> select_profile() const;
  Error bind_output(size_t index, executorch::runtime::EValue* arg);

  const EngineMetadata& metadata_;
  std::vector<Shape> input_shapes_;
  std::vector<Shape> output_shapes_;
  std::vector<HostTensor> inputs_;
  std::vector<HostTensor> outputs_;
};

} // namespace executorch_tensorrt
