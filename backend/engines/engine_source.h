#pragma once

// How the executor gets the engine for a call, once the call's arguments
// have been checked, so a bad call never pays for (deferred) engine creation.

#include <cstdint>

#include "engines/engine_runtime.h"
#include "memory/execution_memory_pool.h"

namespace executorch_tensorrt {

// An engine ready for one run. When the engine draws on a shared execution
// memory pool, `memory` holds the pool (its memory is bound to the engine)
// until this lease is destroyed: keep it until the run has completed.
struct EngineLease {
  Engine* engine = nullptr;
  ExecutionMemoryLease memory;
};

class EngineSource {
 public:
  virtual ~EngineSource() = default;
  // Engine `index` of the delegate (0 unless it holds several engines
  // covering different batch ranges), created on first use where init was
  // deferred.
  virtual Result<EngineLease> acquire(uint32_t index) = 0;
};

} // namespace executorch_tensorrt
