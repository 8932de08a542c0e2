#pragma once

// An engine that may not exist yet. Under the `deferred` init policy init()
// only validates the blob; the first execute() deserializes the engine,
// applies the weight-streaming budget and creates the execution context, so a
// program spends no GPU memory until it really runs. offload() gives that
// memory back and keeps what is needed to bring the engine back.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <executorch/runtime/core/freeable_buffer.h>

#include "options/delegate_options.h"
#include "engines/engine_runtime.h"
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
};

// Not thread-safe: the owning delegate serializes every call with its mutex.
class DeferredEngine final {
 public:
  // `budget` is the one in force at init (PoliciesInForce::budget).
  DeferredEngine(const EngineMetadata& metadata, HostEngineBytes bytes, const BudgetRequest& budget);
  // Leaves the execution memory pool before the engine goes.
  ~DeferredEngine();
  DeferredEngine(const DeferredEngine&) = delete;
  DeferredEngine& operator=(const DeferredEngine&) = delete;

  // Brings the engine to kDevice (a no-op when it is there). A failure leaves
  // the engine where it was, so the next call tries again.
  Result<Engine*> acquire();

  // kHost -> kDeserialized (used by init() for eager and deferred_context).
  Error deserialize();

  // Frees the context and the engine, keeping the engine as host bytes.
  Error offload();

  // A new budget in force. When an engine exists its context is recreated
  // under it; otherwise it applies at the next initialization.
  Error reapply_budget(const BudgetRequest& budget);

  // Where the execution context gets its memory: `pool` (user-managed
  // memory, shared), or its own when null. A context that exists is
  // recreated under the new choice.
  Error use_execution_memory(ExecutionMemoryPool* pool);
  ExecutionMemoryPool* execution_memory_pool() const {
    return pool_;
  }

  EngineStatus status() const;

 private:
  Error apply_budget_and_create_context();
  // Leaves the pool (waiting for a run in flight on it), then frees the
  // context.
  void release_context();

  const EngineMetadata& metadata_;
  HostEngineBytes host_bytes_;
  std::unique_ptr<Engine> engine_;
  BudgetRequest requested_budget_;
  BudgetDecision budget_;
  bool budget_resolved_ = false;
  std::optional<int64_t> applied_budget_; // what the live engine has
  ExecutionMemoryPool* pool_ = nullptr; // kept alive by the owning EngineSet
  double last_init_ms_ = 0.0;
  uint32_t initializations_ = 0;
};

} // namespace executorch_tensorrt
