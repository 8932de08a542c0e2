#include "engines/deferred_engine.h"

#include <chrono>
#include <functional>

#include <executorch/runtime/platform/log.h>

#include "engines/engine_loader.h"
#include "common/error_report.h"

namespace executorch_tensorrt {

using executorch::runtime::FreeableBuffer;

const char* engine_state_name(EngineState state) {
  switch (state) {
    case EngineState::kHost:
      return "host";
    case EngineState::kDeserialized:
      return "deserialized";
    case EngineState::kDevice:
      return "device";
  }
  return "unknown";
}

HostEngineBytes::HostEngineBytes(std::shared_ptr<FreeableBuffer> blob, const uint8_t* engine, size_t size)
    : blob_(std::move(blob)), engine_(engine), engine_size_(size) {}

void HostEngineBytes::replace(std::vector<uint8_t> serialized) {
  release();
  serialized_ = std::move(serialized);
}

const uint8_t* HostEngineBytes::data() const {
  return engine_ != nullptr ? engine_ : serialized_.data();
}

size_t HostEngineBytes::size() const {
  return engine_ != nullptr ? engine_size_ : serialized_.size();
}

bool HostEngineBytes::empty() const {
  return size() == 0;
}

void HostEngineBytes::release() {
  blob_.reset(); // the FreeableBuffer frees itself with its last holder
  engine_ = nullptr;
  engine_size_ = 0;
  std::vector<uint8_t>().swap(serialized_);
}

DeferredEngine::DeferredEngine(
    const EngineMetadata& metadata,
    HostEngineBytes bytes,
    const BudgetRequest& budget,
    uint32_t lanes,
    std::shared_ptr<const ExternalWeights> weights)
    : metadata_(metadata),
      host_bytes_(std::move(bytes)),
      weights_(std::move(weights)),
      lanes_(lanes < 1 ? 1 : lanes),
      requested_budget_(budget) {}

DeferredEngine::~DeferredEngine() {
  release_contexts();
}

bool DeferredEngine::has_context(uint32_t lane) const {
  return lanes_[lane].engine && lanes_[lane].engine->has_execution_context();
}

uint32_t DeferredEngine::contexts() const {
  uint32_t count = 0;
  for (uint32_t lane = 0; lane < lanes_.size(); ++lane) {
    count += has_context(lane) ? 1 : 0;
  }
  return count;
}

void DeferredEngine::release_context(uint32_t lane) {
  if (!has_context(lane)) {
    return;
  }
  Engine& engine = *lanes_[lane].engine;
  if (lanes_[lane].pool != nullptr) {
    lanes_[lane].pool->leave(engine);
  }
  engine.release_execution_context();
}

void DeferredEngine::release_contexts() {
  for (uint32_t lane = 0; lane < lanes_.size(); ++lane) {
    release_context(lane);
  }
}

Error DeferredEngine::deserialize() {
  std::lock_guard<std::mutex> lock(mutex_);
  return deserialize_locked();
}

Error DeferredEngine::deserialize_locked() {
  if (lanes_[0].engine) {
    return Error::Ok;
  }
  if (host_bytes_.empty()) {
    return report_error(Error::InvalidState, "internal: no engine bytes left to deserialize");
  }
  Result<std::unique_ptr<Engine>> engine = load_engine(metadata_, host_bytes_.data(), host_bytes_.size());
  if (!engine.ok()) {
    return engine.error();
  }
  Error err = refit(**engine);
  if (err != Error::Ok) {
    return err; // the engine goes; the next call tries again
  }
  lanes_[0].engine = std::move(*engine);
  applied_budget_.reset();
  // The engine lives in its own memory now; the host copy (or the pages of
  // the memory-mapped file) can go.
  host_bytes_.release();
  return Error::Ok;
}

Error DeferredEngine::refit(Engine& engine) {
  if (!weights_) {
    return Error::Ok;
  }
  clear_last_error();
  const std::vector<NamedWeights> views = weights_->views();
  const Error err = engine.refit({views.data(), views.size()});
  if (err != Error::Ok) {
    if (last_error_message()[0] != '\0') {
      return err;
    }
    return report_error(
        err == Error::NotSupported ? Error::DelegateInvalidCompatibility : err,
        "the engine was built without its weights (%zu external weights), and this engine runtime cannot refit "
        "engines (error %u); re-export the model without external_weights",
        weights_->count(),
        static_cast<unsigned>(err));
  }
  refitted_weights_ = static_cast<uint32_t>(weights_->count());
  refitted_weight_bytes_ = weights_->bytes();
  ET_LOG(
      Info,
      "ExecutorchTensorRTBackend: engine refitted with %zu external weights (%llu bytes)",
      weights_->count(),
      static_cast<unsigned long long>(weights_->bytes()));
  return Error::Ok;
}

Error DeferredEngine::apply_budget_and_create_context(uint32_t lane) {
  Engine& original = *lanes_[0].engine;
  // The budget is the engine's, shared by every lane: resolved and applied
  // while no context exists (TensorRT refuses it otherwise; and an automatic
  // budget read again later could differ from the one the contexts run under).
  if (contexts() == 0) {
    BudgetInputs inputs;
    inputs.requested = requested_budget_;
    inputs.streamable_bytes = original.streamable_weights_bytes();
    if (inputs.streamable_bytes > 0) {
      inputs.automatic_bytes = original.automatic_weight_streaming_budget();
    }
    const BudgetDecision decision = resolve_weight_streaming_budget(inputs);
    if (!decision.note.empty()) {
      ET_LOG(Info, "ExecutorchTensorRTBackend: %s", decision.note.c_str());
    }
    if (decision.apply && applied_budget_ != decision.bytes) {
      Error err = original.set_weight_streaming_budget(decision.bytes);
      if (err != Error::Ok) {
        return err;
      }
      applied_budget_ = decision.bytes;
    }
    budget_ = decision;
    budget_resolved_ = true;
    if (decision.apply) {
      ET_LOG(
          Info,
          "ExecutorchTensorRTBackend: weight-streaming budget %lld bytes (source: %s, streamable: %lld bytes)",
          static_cast<long long>(decision.bytes),
          budget_source_name(decision.source),
          static_cast<long long>(inputs.streamable_bytes));
    }
  }
  Lane& target = lanes_[lane];
  if (!target.engine) {
    Result<std::unique_ptr<Engine>> sharer = original.share_engine();
    if (!sharer.ok()) {
      return report_error(
          sharer.error(),
          "cannot create execution context %u of the engine: this engine runtime runs one call per engine at a time; "
          "load the program with %s=1",
          lane + 1,
          kOptionExecutionContexts);
    }
    target.engine = std::move(*sharer);
  }
  Engine& engine = *target.engine;
  Error err = engine.create_execution_context(target.pool != nullptr ? ContextMemory::kUserManaged : ContextMemory::kOwned);
  if (err != Error::Ok) {
    return err;
  }
  if (target.pool != nullptr) {
    // The need depends on the budget just applied.
    target.pool->join(engine, engine.execution_memory_bytes());
  }
  return Error::Ok;
}

Result<Engine*> DeferredEngine::acquire(uint32_t lane) {
  if (lane >= lanes_.size()) {
    return report_error(
        Error::InvalidArgument, "internal: lane %u asked of an engine with %zu lanes", lane, lanes_.size());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (has_context(lane)) {
    return lanes_[lane].engine.get();
  }
  const auto start = std::chrono::steady_clock::now();
  const bool from_host = !lanes_[0].engine;
  Error err = deserialize_locked();
  if (err != Error::Ok) {
    return err;
  }
  if ((err = apply_budget_and_create_context(lane)) != Error::Ok) {
    return err;
  }
  if (from_host) {
    last_init_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++initializations_;
  }
  return lanes_[lane].engine.get();
}

Error DeferredEngine::offload() {
  if (!lanes_[0].engine) {
    return Error::Ok;
  }
  // Serialize before releasing anything, so a failure leaves the engine
  // usable where it was.
  Result<std::vector<uint8_t>> bytes = lanes_[0].engine->serialize();
  if (!bytes.ok()) {
    return bytes.error();
  }
  release_contexts();
  for (Lane& lane : lanes_) {
    lane.engine.reset();
  }
  applied_budget_.reset();
  host_bytes_.replace(std::move(*bytes));
  return Error::Ok;
}

// Recreates the contexts of the lanes in `had` (the budget is resolved
// again at the first).
static Error recreate_contexts(const std::vector<bool>& had, const std::function<Error(uint32_t)>& create) {
  Error first = Error::Ok;
  for (uint32_t lane = 0; lane < had.size(); ++lane) {
    const Error err = had[lane] ? create(lane) : Error::Ok;
    first = first == Error::Ok ? err : first;
  }
  return first;
}

Error DeferredEngine::reapply_budget(const BudgetRequest& budget) {
  requested_budget_ = budget;
  if (!lanes_[0].engine) {
    return Error::Ok; // resolved at the next initialization
  }
  std::vector<bool> had(lanes_.size());
  for (uint32_t lane = 0; lane < lanes_.size(); ++lane) {
    had[lane] = has_context(lane);
  }
  // TensorRT only changes a budget while no context exists; release waits
  // for work in flight.
  release_contexts();
  return recreate_contexts(had, [this](uint32_t lane) { return apply_budget_and_create_context(lane); });
}

Error DeferredEngine::use_execution_memory(const std::vector<ExecutionMemoryPool*>& pools) {
  std::vector<bool> had(lanes_.size(), false);
  for (uint32_t lane = 0; lane < lanes_.size(); ++lane) {
    ExecutionMemoryPool* pool = lane < pools.size() ? pools[lane] : nullptr;
    if (pool == lanes_[lane].pool) {
      continue;
    }
    had[lane] = has_context(lane);
    release_context(lane);
    lanes_[lane].pool = pool;
  }
  return recreate_contexts(had, [this](uint32_t lane) { return apply_budget_and_create_context(lane); });
}

EngineStatus DeferredEngine::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  EngineStatus status;
  if (const Engine* engine = lanes_[0].engine.get()) {
    status.contexts = contexts();
    status.state = status.contexts > 0 ? EngineState::kDevice : EngineState::kDeserialized;
    status.execution_memory_bytes = engine->execution_memory_bytes();
    for (const Lane& lane : lanes_) {
      status.device_bytes += lane.engine ? lane.engine->device_bytes() : 0;
    }
  }
  status.pooled = lanes_[0].pool != nullptr;
  status.host_bytes = static_cast<int64_t>(host_bytes_.size());
  status.budget = budget_;
  status.budget_resolved = budget_resolved_;
  status.last_init_ms = last_init_ms_;
  status.initializations = initializations_;
  status.refitted_weights = refitted_weights_;
  status.refitted_weight_bytes = refitted_weight_bytes_;
  return status;
}

} // namespace executorch_tensorrt
