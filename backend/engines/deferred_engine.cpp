#include "engines/deferred_engine.h"

#include <chrono>

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

DeferredEngine::DeferredEngine(const EngineMetadata& metadata, HostEngineBytes bytes, const BudgetRequest& budget)
    : metadata_(metadata), host_bytes_(std::move(bytes)), requested_budget_(budget) {}

DeferredEngine::~DeferredEngine() {
  release_context();
}

void DeferredEngine::release_context() {
  if (!engine_ || !engine_->has_execution_context()) {
    return;
  }
  if (pool_ != nullptr) {
    pool_->leave(*engine_);
  }
  engine_->release_execution_context();
}

Error DeferredEngine::deserialize() {
  if (engine_) {
    return Error::Ok;
  }
  if (host_bytes_.empty()) {
    return report_error(Error::InvalidState, "internal: no engine bytes left to deserialize");
  }
  Result<std::unique_ptr<Engine>> engine = load_engine(metadata_, host_bytes_.data(), host_bytes_.size());
  if (!engine.ok()) {
    return engine.error();
  }
  engine_ = std::move(*engine);
  applied_budget_.reset();
  // The engine lives in its own memory now; the host copy (or the pages of
  // the memory-mapped file) can go.
  host_bytes_.release();
  return Error::Ok;
}

Error DeferredEngine::apply_budget_and_create_context() {
  BudgetInputs inputs;
  inputs.requested = requested_budget_;
  inputs.streamable_bytes = engine_->streamable_weights_bytes();
  if (inputs.streamable_bytes > 0) {
    inputs.automatic_bytes = engine_->automatic_weight_streaming_budget();
  }
  const BudgetDecision decision = resolve_weight_streaming_budget(inputs);
  if (!decision.note.empty()) {
    ET_LOG(Info, "ExecutorchTensorRTBackend: %s", decision.note.c_str());
  }
  if (decision.apply && applied_budget_ != decision.bytes) {
    Error err = engine_->set_weight_streaming_budget(decision.bytes);
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
  Error err = engine_->create_execution_context(pool_ != nullptr ? ContextMemory::kUserManaged : ContextMemory::kOwned);
  if (err != Error::Ok) {
    return err;
  }
  if (pool_ != nullptr) {
    // The need depends on the budget just applied.
    pool_->join(*engine_, engine_->execution_memory_bytes());
  }
  return Error::Ok;
}

Result<Engine*> DeferredEngine::acquire() {
  if (engine_ && engine_->has_execution_context()) {
    return engine_.get();
  }
  const auto start = std::chrono::steady_clock::now();
  const bool from_host = !engine_;
  Error err = deserialize();
  if (err != Error::Ok) {
    return err;
  }
  if ((err = apply_budget_and_create_context()) != Error::Ok) {
    return err;
  }
  if (from_host) {
    last_init_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++initializations_;
  }
  return engine_.get();
}

Error DeferredEngine::offload() {
  if (!engine_) {
    return Error::Ok;
  }
  // Serialize before releasing anything, so a failure leaves the engine
  // usable where it was.
  Result<std::vector<uint8_t>> bytes = engine_->serialize();
  if (!bytes.ok()) {
    return bytes.error();
  }
  release_context();
  engine_.reset();
  applied_budget_.reset();
  host_bytes_.replace(std::move(*bytes));
  return Error::Ok;
}

Error DeferredEngine::reapply_budget(const BudgetRequest& budget) {
  requested_budget_ = budget;
  if (!engine_) {
    return Error::Ok; // resolved at the next initialization
  }
  const bool had_context = engine_->has_execution_context();
  // TensorRT only changes a budget while no context exists; release waits
  // for work in flight.
  release_context();
  if (!had_context) {
    return Error::Ok;
  }
  return apply_budget_and_create_context();
}

Error DeferredEngine::use_execution_memory(ExecutionMemoryPool* pool) {
  if (pool == pool_) {
    return Error::Ok;
  }
  const bool had_context = engine_ && engine_->has_execution_context();
  release_context();
  pool_ = pool;
  return had_context ? apply_budget_and_create_context() : Error::Ok;
}

EngineStatus DeferredEngine::status() const {
  EngineStatus status;
  if (engine_) {
    status.state = engine_->has_execution_context() ? EngineState::kDevice : EngineState::kDeserialized;
    status.device_bytes = engine_->device_bytes();
    status.execution_memory_bytes = engine_->execution_memory_bytes();
  }
  status.pooled = pool_ != nullptr;
  status.host_bytes = static_cast<int64_t>(host_bytes_.size());
  status.budget = budget_;
  status.budget_resolved = budget_resolved_;
  status.last_init_ms = last_init_ms_;
  status.initializations = initializations_;
  return status;
}

} // namespace executorch_tensorrt
