#include "engines/engine_set.h"

#include "common/error_report.h"

namespace executorch_tensorrt {

EngineSet::EngineSet(
    const DelegateMetadata& metadata,
    std::vector<HostEngineBytes> bytes,
    const PoliciesInForce& policies,
    uint64_t program)
    : metadata_(metadata), program_(program) {
  pool_ = pool_for(policies.execution_memory);
  engines_.reserve(bytes.size());
  for (size_t e = 0; e < bytes.size(); ++e) {
    engines_.push_back(std::make_unique<DeferredEngine>(metadata_.engines[e], std::move(bytes[e]), policies.budget));
    // No context exists yet, so this only records where it will draw from.
    (void)engines_.back()->use_execution_memory(pool_.get());
  }
}

std::shared_ptr<ExecutionMemoryPool> EngineSet::pool_for(ExecutionMemoryScope scope) const {
  if (scope == ExecutionMemoryScope::kPrivate) {
    return nullptr;
  }
  ExecutionMemoryPoolKey key;
  key.scope = scope;
  key.owner = scope == ExecutionMemoryScope::kProgram ? program_ : 0;
  key.device_index = metadata_.io.device_index;
  key.flavour = static_cast<uint8_t>(metadata_.io.flavour);
  return execution_memory_pool_for(key);
}

Result<EngineLease> EngineSet::acquire(uint32_t index) {
  if (index >= engines_.size()) {
    return report_error(
        Error::InvalidArgument, "internal: engine %u asked of a delegate with %zu engines", index, engines_.size());
  }
  Result<Engine*> engine = engines_[index]->acquire();
  if (!engine.ok()) {
    return engine.error();
  }
  EngineLease lease;
  lease.engine = *engine;
  if (pool_) {
    Result<ExecutionMemoryLease> memory = pool_->lease(**engine);
    if (!memory.ok()) {
      return memory.error();
    }
    lease.memory = std::move(*memory);
  }
  return lease;
}

Error EngineSet::acquire_all() {
  Engine* member = nullptr;
  for (auto& engine : engines_) {
    Result<Engine*> acquired = engine->acquire();
    if (!acquired.ok()) {
      return acquired.error();
    }
    member = *acquired;
  }
  // Eager means every device allocation happens now, the shared execution
  // memory included (sized for every member that joined so far).
  return pool_ && member != nullptr ? pool_->reserve(*member) : Error::Ok;
}

Error EngineSet::deserialize_all() {
  for (auto& engine : engines_) {
    Error err = engine->deserialize();
    if (err != Error::Ok) {
      return err;
    }
  }
  return Error::Ok;
}

// Every engine is tried; the first failure is reported.
template <typename Step>
static Error for_every_engine(std::vector<std::unique_ptr<DeferredEngine>>& engines, Step step) {
  Error first = Error::Ok;
  for (auto& engine : engines) {
    const Error err = step(*engine);
    first = first == Error::Ok ? err : first;
  }
  return first;
}

Error EngineSet::offload() {
  return for_every_engine(engines_, [](DeferredEngine& e) { return e.offload(); });
}

Error EngineSet::reapply_budget(const BudgetRequest& budget) {
  return for_every_engine(engines_, [&](DeferredEngine& e) { return e.reapply_budget(budget); });
}

Error EngineSet::reapply_execution_memory(ExecutionMemoryScope scope) {
  std::shared_ptr<ExecutionMemoryPool> pool = pool_for(scope);
  Error err = for_every_engine(engines_, [&](DeferredEngine& e) { return e.use_execution_memory(pool.get()); });
  // Engines that failed to recreate their context are left without one, but
  // draw on the new pool at their next initialization.
  pool_ = std::move(pool);
  return err;
}

std::optional<ExecutionMemoryPoolReport> EngineSet::pool_report() const {
  if (!pool_) {
    return std::nullopt;
  }
  return pool_->report();
}

} // namespace executorch_tensorrt
