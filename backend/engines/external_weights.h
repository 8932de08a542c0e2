#pragma once

// The weights a delegate's engines were built without (blob section
// external_weights), taken from the program's named data (the .ptd beside
// the .pte) at init() and held until the engines are gone: every
// deserialization of a weight-stripped engine (the first, and each one after
// an offload) refits it from them (DeferredEngine).
//
// Lifetime: ExecuTorch's NamedDataMap belongs to the Method (or the Module's
// data file) and is only promised for init(); the FreeableBuffers get_data()
// returns belong to us until freed, like the blob init() receives (they hold
// the data loader's pages or copies, never the map), so they are taken at
// init() and kept: under the mmap data loader no page is read until a refit
// reads it.

#include <cstdint>
#include <memory>
#include <vector>

#include <executorch/runtime/core/freeable_buffer.h>
#include <executorch/runtime/core/named_data_map.h>

#include "blob/delegate_blob.h"
#include "engines/engine_runtime.h"

namespace executorch_tensorrt {

class ExternalWeights {
 public:
  // Each weight of `specs` from `map` (null: the program was loaded without
  // named data). Refuses a missing key, and bytes or a tensor layout that
  // disagree with the blob (dtype, shape, size), naming the weight, both
  // sides and what to do.
  static Result<std::shared_ptr<const ExternalWeights>> load(
      const executorch::runtime::NamedDataMap* map,
      const std::vector<ExternalWeightSpec>& specs);

  // Views of every weight for Engine::refit(), valid while this object lives.
  std::vector<NamedWeights> views() const;
  size_t count() const {
    return specs_.size();
  }
  uint64_t bytes() const {
    return bytes_;
  }

 private:
  ExternalWeights() = default;
  std::vector<ExternalWeightSpec> specs_;
  std::vector<executorch::runtime::FreeableBuffer> buffers_; // one per spec
  uint64_t bytes_ = 0;
};

} // namespace executorch_tensorrt
