#pragma once

// The engines of one delegate and where their execution memory comes from.
// A delegate usually holds one engine; with batch-aware engine reuse it holds
// one per batch range, each created on first use. Their contexts draw on the
// execution memory pool of the scope in force (option `execution_memory`),
// or own their memory under `private`.

#include <memory>
#include <optional>
#include <vector>

#include "engines/deferred_engine.h"
#include "engines/delegate_metadata.h"
#include "engines/engine_source.h"
#include "memory/execution_memory_pool.h"

namespace executorch_tensorrt {

// Not thread-safe: the owning delegate serializes every call with its mutex.
class EngineSet final : public EngineSource {
 public:
  // `bytes` holds one entry per engine of `metadata`. `program` identifies
  // the program for the `program` scope. `metadata` belongs to the owning
  // delegate and must outlive this set; `policies` are those in force at init.
  EngineSet(
      const DelegateMetadata& metadata,
      std::vector<HostEngineBytes> bytes,
      const PoliciesInForce& policies,
      uint64_t program);

  // Engine `index` ready to run; with a pool, its memory is bound and the
  // pool held until the lease is destroyed.
  Result<EngineLease> acquire(uint32_t index) override;

  Error acquire_all(); // init_policy eager
  Error deserialize_all(); // init_policy deferred_context
  // Frees every context and engine, keeping the engines as host bytes.
  Error offload();
  // A new budget in force (DeferredEngine::reapply_budget).
  Error reapply_budget(const BudgetRequest& budget);
  // A new `execution_memory` in force: contexts move to the pool of the new
  // scope (or to private memory).
  Error reapply_execution_memory(ExecutionMemoryScope scope);

  size_t size() const {
    return engines_.size();
  }
  EngineStatus status(size_t index) const {
    return engines_[index]->status();
  }
  // The pool in force, if any.
  std::optional<ExecutionMemoryPoolReport> pool_report() const;

 private:
  std::shared_ptr<ExecutionMemoryPool> pool_for(ExecutionMemoryScope scope) const;

  const DelegateMetadata& metadata_;
  const uint64_t program_;
  // Declared before the engines so it outlives them: they leave it when
  // they are destroyed.
  std::shared_ptr<ExecutionMemoryPool> pool_;
  std::vector<std::unique_ptr<DeferredEngine>> engines_;
};

} // namespace executorch_tensorrt
