#pragma once

// An engine that may not exist yet. Under the `deferred` init policy init()
// only validates the blob; the first execute() deserializes the engine,
// applies the weight-streaming budget and creates the execution context, so a
// program spends no GPU memory until it really runs. offload() gives that
// memory back and keeps what is needed to bring the engine back.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <executorch/runtime/core/freeable_buffer.h>

#include "options/delegate_options.h"
#include "engines/engine_runtime.h"
#include "engines/external_weights.h"
#include "memory/execution_memory_pool.h"
#include "options/weight_streaming_budget.h"

namespace executorch_tensorrt {

// Where the engine is: only as bytes on the host, deserialized without an
// execution context, or ready to run on the device.
enum class EngineState : uint8_t { kHost, kDeserialized, kDevice };

const char* engine_state_name(EngineState state);

// The engine's bytes while no engine exists: the buffer ExecuTorch handed to
// init() (kept without a copy; a memory map under the mmap data loader) or,
// after an offload, the engine serialized back to host memory.
//
// The engines of one delegate all lie in the one buffer ExecuTorch handed
// init(), so they share it: it is freed when the last of them let go.
class HostEngineBytes {
 public:
  HostEngineBytes() = default;
  HostEngineBytes(
      std::shared_ptr<executorch::runtime::FreeableBuffer> blob,
      const uint8_t* engine,
      size_t size);
  HostEngineBytes(HostEngineBytes&&) = default;

  // Drops what is held and keeps `serialized` instead (after an offload).
  void replace(std::vector<uint8_t> serialized);

  const uint8_t* data() const;
  size_t size() const;
  bool empty() const;
  void release();

 private:
  std::shared_ptr<executorch::runtime::FreeableBuffer> blob_;
  const uint8_t* engine_ = nullptr; // inside *blob_
  size_t engine_size_ = 0;
  std::vector<uint8_t> serialized_;
};

struct EngineStatus {
  EngineState state = EngineState::kHost;
  int64_t device_bytes = 0;
  int64_t host_bytes = 0; // engine bytes held on the host
  BudgetDecision budget; // the last budget resolved (source kNotStreamable before the first)
  bool budget_resolved = false;
  double last_init_ms = 0.0; // duration of the last host -> device transition
  uint32_t initializations = 0; // host -> device transitions so far
  // The execution-context memory the engine needs (whether it owns it or
  // draws it from a pool); -1 while no engine exists to ask.
  int64_t execution_memory_bytes = -1;
  bool pooled = false; // the context draws on a shared pool
  uint32_t contexts = 0; // execution contexts that exist now, over the lanes
  // External weights the engine was refitted with at its last
  // deserialization (0 until then, and for engines that keep theirs).
  uint32_t refitted_weights = 0;
  uint64_t refitted_weight_bytes = 0;
};

// The engine's state is shared by its lanes (option `execution_contexts`):
// lane 0 runs on the deserialized engine, lane k > 0 on a sharer of it
// (Engine::share_engine()) with its own context and stream, made at the
// lane's first call. acquire() may be called from several threads at once
// for DIFFERENT lanes (each caller holds its lane); every other member only
// while the caller holds every lane of the owning delegate.
class DeferredEngine final {
 public:
  // `budget` is the one in force at init (PoliciesInForce::budget); `lanes`
  // >= 1. `weights`: the external weights every deserialization refits the
  // engine with (null: the engine holds its own).
  DeferredEngine(
      const EngineMetadata& metadata,
      HostEngineBytes bytes,
      const BudgetRequest& budget,
      uint32_t lanes = 1,
      std::shared_ptr<const ExternalWeights> weights = nullptr);
  // Leaves the execution memory pools before the engine goes.
  ~DeferredEngine();
  DeferredEngine(const DeferredEngine&) = delete;
  DeferredEngine& operator=(const DeferredEngine&) = delete;

  // Brings the engine to kDevice with a context for `lane` (a no-op when it
  // has one). A failure leaves the engine where it was, so the next call
  // tries again.
  Result<Engine*> acquire(uint32_t lane = 0);

  // kHost -> kDeserialized (used by init() for eager and deferred_context).
  Error deserialize();

  // Frees every context and the engine, keeping the engine as host bytes.
  Error offload();

  // A new budget in force. When an engine exists, the contexts that exist
  // are recreated under it; otherwise it applies at the next initialization.
  Error reapply_budget(const BudgetRequest& budget);

  // Where each lane's execution context gets its memory: `pools[lane]`
  // (user-managed memory, shared), or its own when null; one entry per
  // lane. A context that exists is recreated under the new choice.
  Error use_execution_memory(const std::vector<ExecutionMemoryPool*>& pools);
  ExecutionMemoryPool* execution_memory_pool(uint32_t lane = 0) const {
    return lanes_[lane].pool;
  }
  uint32_t lanes() const {
    return static_cast<uint32_t>(lanes_.size());
  }

  EngineStatus status() const;

 private:
  struct Lane {
    std::unique_ptr<Engine> engine; // lane 0: the deserialized engine; others: its sharers
    ExecutionMemoryPool* pool = nullptr; // kept alive by the owning EngineSet
  };

  Error deserialize_locked();
  // Refits a just-deserialized engine from weights_ (a no-op without them).
  Error refit(Engine& engine);
  // Resolves and applies the budget (only while no lane has a context: it is
  // the engine's), then creates `lane`'s context.
  Error apply_budget_and_create_context(uint32_t lane);
  // Leaves the lane's pool (waiting for a run in flight on it), then frees
  // its context.
  void release_context(uint32_t lane);
  void release_contexts();
  bool has_context(uint32_t lane) const;
  uint32_t contexts() const;

  const EngineMetadata& metadata_;
  HostEngineBytes host_bytes_;
  const std::shared_ptr<const ExternalWeights> weights_;
  uint32_t refitted_weights_ = 0;
  uint64_t refitted_weight_bytes_ = 0;
  std::vector<Lane> lanes_;
  BudgetRequest requested_budget_;
  BudgetDecision budget_;
  bool budget_resolved_ = false;
  std::optional<int64_t> applied_budget_; // what the live engine has
  double last_init_ms_ = 0.0;
  uint32_t initializations_ = 0;
  // Held by acquire(): lanes may bring up the shared engine concurrently.
  mutable std::mutex mutex_;
};

} // namespace executorch_tensorrt
