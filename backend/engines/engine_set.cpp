#include "engines/engine_set.h"

#include "common/error_report.h"

namespace executorch_tensorrt {

EngineSet::EngineSet(
    const DelegateMetadata& metadata,
    std::vector<HostEngineBytes> bytes,
    const PoliciesInForce& policies,
    uint64_t program,
    std::shared_ptr<const ExternalWeights> weights)
    : metadata_(metadata), program_(program) {
  const uint32_t lanes = policies.execution_contexts < 1 ? 1 : policies.execution_contexts;
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    lane_sources_.push_back(std::make_unique<LaneSource>(*this, lane));
  }
  pools_ = pools_for(policies.execution_memory);
  engines_.reserve(bytes.size());
  for (size_t e = 0; e < bytes.size(); ++e) {
    engines_.push_back(
        std::make_unique<DeferredEngine>(metadata_.engines[e], std::move(bytes[e]), policies.budget, lanes, weights));
    // No context exists yet, so this only records where they will draw from.
    (void)engines_.back()->use_execution_memory(pool_pointers());
  }
}

std::vector<std::shared_ptr<ExecutionMemoryPool>> EngineSet::pools_for(ExecutionMemoryScope scope) const {
  std::vector<std::shared_ptr<ExecutionMemoryPool>> pools;
  for (uint32_t lane = 0; lane < lanes(); ++lane) {
    const std::optional<ExecutionMemoryPoolKey> key = lane_pool_key(
        scope, program_, metadata_.io.device_index, static_cast<uint8_t>(metadata_.io.flavour), lane);
    pools.push_back(key.has_value() ? execution_memory_pool_for(*key) : nullptr);
  }
  return pools;
}

static std::vector<ExecutionMemoryPool*> pointers_of(const std::vector<std::shared_ptr<ExecutionMemoryPool>>& pools) {
  std::vector<ExecutionMemoryPool*> pointers;
  for (const auto& pool : pools) {
    pointers.push_back(pool.get());
  }
  return pointers;
}

std::vector<ExecutionMemoryPool*> EngineSet::pool_pointers() const {
  return pointers_of(pools_);
}

Result<EngineLease> EngineSet::acquire(uint32_t index, uint32_t lane) {
  if (index >= engines_.size() || lane >= lanes()) {
    return report_error(
        Error::InvalidArgument,
        "internal: engine %u lane %u asked of a delegate with %zu engines and %u lanes",
        index,
        lane,
        engines_.size(),
        lanes());
  }
  Result<Engine*> engine = engines_[index]->acquire(lane);
  if (!engine.ok()) {
    return engine.error();
  }
  EngineLease lease;
  lease.engine = *engine;
  if (ExecutionMemoryPool* pool = pools_[lane].get()) {
    Result<ExecutionMemoryLease> memory = pool->lease(**engine);
    if (!memory.ok()) {
      return memory.error();
    }
    lease.memory = std::move(*memory);
  }
  return lease;
}

Error EngineSet::acquire_all() {
  for (uint32_t lane = 0; lane < lanes(); ++lane) {
    Engine* member = nullptr;
    for (auto& engine : engines_) {
      Result<Engine*> acquired = engine->acquire(lane);
      if (!acquired.ok()) {
        return acquired.error();
      }
      member = *acquired;
    }
    // Eager means every device allocation happens now, the shared execution
    // memory included (sized for every member that joined so far).
    if (pools_[lane] && member != nullptr) {
      Error err = pools_[lane]->reserve(*member);
      if (err != Error::Ok) {
        return err;
      }
    }
  }
  return Error::Ok;
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
  std::vector<std::shared_ptr<ExecutionMemoryPool>> pools = pools_for(scope);
  const std::vector<ExecutionMemoryPool*> pointers = pointers_of(pools);
  Error err = for_every_engine(engines_, [&](DeferredEngine& e) { return e.use_execution_memory(pointers); });
  // Engines that failed to recreate their context are left without one, but
  // draw on the new pools at their next initialization.
  pools_ = std::move(pools);
  return err;
}

std::optional<ExecutionMemoryPoolReport> EngineSet::pool_report() const {
  if (!pools_[0]) {
    return std::nullopt;
  }
  return pools_[0]->report();
}

std::vector<ExecutionMemoryPoolReport> EngineSet::lane_pool_reports() const {
  std::vector<ExecutionMemoryPoolReport> reports;
  for (const auto& pool : pools_) {
    if (pool) {
      reports.push_back(pool->report());
    }
  }
  return reports;
}

} // namespace executorch_tensorrt
