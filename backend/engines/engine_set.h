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

// acquire() may be called from several threads at once for different lanes
// (each caller holds its lane of the owning delegate); every other member
// only while the caller holds every lane.
class EngineSet final : public EngineSource {
 public:
  // `bytes` holds one entry per engine of `metadata`. `program` identifies
  // the program for the `program` scope. `metadata` belongs to the owning
  // delegate and must outlive this set; `policies` are those in force at init
  // (their `execution_contexts` is the number of lanes). `weights`: the
  // external weights every engine is refitted with (null: none).
  EngineSet(
      const DelegateMetadata& metadata,
      std::vector<HostEngineBytes> bytes,
      const PoliciesInForce& policies,
      uint64_t program,
      std::shared_ptr<const ExternalWeights> weights = nullptr);

  // Engine `index` ready to run on lane 0; with a pool, its memory is bound
  // and the pool held until the lease is destroyed.
  Result<EngineLease> acquire(uint32_t index) override {
    return acquire(index, 0);
  }
  // The same with `lane`'s execution context and pool.
  Result<EngineLease> acquire(uint32_t index, uint32_t lane);
  // What a lane's executor asks for its engines.
  EngineSource& lane_source(uint32_t lane) {
    return *lane_sources_[lane];
  }

  Error acquire_all(); // init_policy eager: every engine, every lane
  Error deserialize_all(); // init_policy deferred_context
  // Frees every context and engine, keeping the engines as host bytes.
  Error offload();
  // A new budget in force (DeferredEngine::reapply_budget).
  Error reapply_budget(const BudgetRequest& budget);
  // A new `execution_memory` in force: contexts move to the pools of the new
  // scope (or to private memory).
  Error reapply_execution_memory(ExecutionMemoryScope scope);

  size_t size() const {
    return engines_.size();
  }
  uint32_t lanes() const {
    return static_cast<uint32_t>(lane_sources_.size());
  }
  EngineStatus status(size_t index) const {
    return engines_[index]->status();
  }
  // Lane 0's pool, if any.
  std::optional<ExecutionMemoryPoolReport> pool_report() const;
  // Each lane's pool (empty under private).
  std::vector<ExecutionMemoryPoolReport> lane_pool_reports() const;

 private:
  class LaneSource final : public EngineSource {
   public:
    LaneSource(EngineSet& set, uint32_t lane) : set_(set), lane_(lane) {}
    Result<EngineLease> acquire(uint32_t index) override {
      return set_.acquire(index, lane_);
    }

   private:
    EngineSet& set_;
    const uint32_t lane_;
  };

  // One pool per lane (lane_pool_key), or none under private.
  std::vector<std::shared_ptr<ExecutionMemoryPool>> pools_for(ExecutionMemoryScope scope) const;
  std::vector<ExecutionMemoryPool*> pool_pointers() const;

  const DelegateMetadata& metadata_;
  const uint64_t program_;
  std::vector<std::unique_ptr<LaneSource>> lane_sources_;
  // Declared before the engines so they outlive them: engines leave them
  // when they are destroyed.
  std::vector<std::shared_ptr<ExecutionMemoryPool>> pools_;
  std::vector<std::unique_ptr<DeferredEngine>> engines_;
};

} // namespace executorch_tensorrt
