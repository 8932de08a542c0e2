// TensorRTEngine's lifecycle: weight-streaming budget, execution context,
// device-memory report and serialization for offload. Kept apart from the
// execute path (tensorrt_engine.cpp) because the two change for different
// reasons.

#include <cstring>

#include "common/error_report.h"
#include "tensorrt/tensorrt_engine.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {

int64_t TensorRTEngine::streamable_weights_bytes() const {
  // 0 unless the engine was built with BuilderFlag::kWEIGHT_STREAMING.
  const int64_t bytes = engine_->getStreamableWeightsSize();
  return bytes > 0 ? bytes : 0;
}

int64_t TensorRTEngine::automatic_weight_streaming_budget() const {
  ScopedDevice device(device_index_);
  // TensorRT sizes it from the device's free memory, so the device matters.
  return device.status() == cudaSuccess ? engine_->getWeightStreamingAutomaticBudget() : 0;
}

Error TensorRTEngine::set_weight_streaming_budget(int64_t bytes) {
  if (context_) {
    // TensorRT forbids changing the budget while a context exists.
    return report_error(
        Error::InvalidState, "internal: weight-streaming budget changed while an execution context exists");
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  logger_.clear_last_error();
  // The weights kept resident are allocated by this call.
  if (!engine_->setWeightStreamingBudgetV2(bytes)) {
    return report_error(
        Error::MemoryAllocationFailed,
        "TensorRT refused weight_streaming_budget=%lld (streamable weights: %lld bytes): %s; "
        "try a smaller budget",
        static_cast<long long>(bytes),
        static_cast<long long>(streamable_weights_bytes()),
        logger_.take_last_error().c_str());
  }
  return Error::Ok;
}

Error TensorRTEngine::create_execution_context(ContextMemory memory) {
  if (context_) {
    return Error::Ok;
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  logger_.clear_last_error();
  // kUSER_MANAGED: the context allocates no activation memory; the
  // delegate's execution memory pool binds it before each run.
  const bool user_managed = memory == ContextMemory::kUserManaged;
  context_.reset(engine_->createExecutionContext(
      user_managed ? nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED
                   : nvinfer1::ExecutionContextAllocationStrategy::kSTATIC));
  if (!context_) {
    return report_error(
        Error::MemoryAllocationFailed,
        "TensorRT could not create an execution context (%s; the context needs %lld bytes of device memory): %s",
        user_managed ? "user-managed memory" : "own memory",
        static_cast<long long>(engine_->getDeviceMemorySizeV2()),
        logger_.take_last_error().c_str());
  }
  // A new context starts on profile 0, with no memory bound; graphs of the
  // old one are stale.
  ++context_generation_;
  shapes_cached_ = false;
  active_profile_ = 0;
  user_managed_ = user_managed;
  memory_bound_ = false;
  return Error::Ok;
}

int64_t TensorRTEngine::execution_memory_bytes() const {
  // The largest need over all profiles, including the weight-streaming
  // scratch under the budget now set (why it is read after the budget).
  const int64_t bytes = engine_->getDeviceMemorySizeV2();
  return bytes > 0 ? bytes : 0;
}

Error TensorRTEngine::bind_execution_memory(void* memory, int64_t bytes) {
  if (!context_ || !user_managed_) {
    return report_error(
        Error::InvalidState, "internal: execution memory bound to a context that owns its memory (or to none)");
  }
  if (bytes < execution_memory_bytes()) {
    return report_error(
        Error::InvalidArgument,
        "internal: %lld bytes of execution memory bound, the engine needs %lld",
        static_cast<long long>(bytes),
        static_cast<long long>(execution_memory_bytes()));
  }
  if (memory_bound_ && memory == bound_memory_ && bytes == bound_bytes_) {
    return Error::Ok; // already this context's memory (every run of a pool's only member)
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  logger_.clear_last_error();
  context_->setDeviceMemoryV2(memory, bytes);
  // setDeviceMemoryV2 returns nothing; TensorRT reports a refusal (e.g. a
  // misaligned address) through the logger. (take_last_error() is never
  // empty: it stands in a placeholder, so ask has_last_error().)
  if (logger_.has_last_error()) {
    return report_error(
        Error::Internal, "TensorRT refused the execution memory: %s", logger_.take_last_error().c_str());
  }
  memory_bound_ = true;
  bound_memory_ = memory;
  bound_bytes_ = bytes;
  return Error::Ok;
}

void TensorRTEngine::release_execution_context() {
  if (!context_) {
    return;
  }
  ScopedDevice device(device_index_);
  // Work enqueued with this context must finish before its memory goes.
  wait_for_work();
  context_.reset();
  for (auto& allocator : output_allocators_) {
    allocator.reset(); // after the context that pointed to it
  }
  memory_bound_ = false;
  shapes_cached_ = false;
}

bool TensorRTEngine::has_execution_context() const {
  return context_ != nullptr;
}

int64_t TensorRTEngine::device_bytes() const {
  // TensorRT reports no single "memory held" figure; this adds the weights
  // kept on the device and, with a context that owns its memory, that
  // memory (getDeviceMemorySizeV2 includes the streaming scratch space).
  // User-managed memory belongs to the delegate's pool and is reported there.
  // A sharer's weights are the original's, counted there.
  if (shares_weights_) {
    return context_ && !user_managed_ ? execution_memory_bytes() : 0;
  }
  const int64_t total_weights = engine_->getEngineStat(nvinfer1::EngineStat::kTOTAL_WEIGHTS_SIZE);
  const int64_t streamable = streamable_weights_bytes();
  int64_t bytes = total_weights > 0 ? total_weights : 0;
  const bool streaming = streamable > 0 && engine_->getWeightStreamingBudgetV2() < streamable;
  if (streaming) {
    bytes = bytes - streamable + engine_->getWeightStreamingBudgetV2();
  }
  if (context_ && !user_managed_) {
    bytes += execution_memory_bytes();
  }
  return bytes;
}

Result<std::vector<uint8_t>> TensorRTEngine::serialize() const {
  logger_.clear_last_error();
  std::unique_ptr<nvinfer1::IHostMemory> memory(engine_->serialize());
  if (!memory || memory->data() == nullptr) {
    return report_error(
        Error::NotSupported,
        "TensorRT could not serialize the engine to release it from the device: %s",
        logger_.take_last_error().c_str());
  }
  const auto* bytes = static_cast<const uint8_t*>(memory->data());
  return std::vector<uint8_t>(bytes, bytes + memory->size());
}

TensorRTEngine::TensorRTEngine(const TensorRTEngine& original)
    : engine_(original.engine_),
      logger_(original.logger_),
      device_index_(original.device_index_),
      shares_weights_(true),
      input_names_(original.input_names_),
      output_names_(original.output_names_),
      output_dtypes_(original.output_dtypes_),
      state_input_shapes_(original.state_input_shapes_) {
  output_allocators_.resize(output_names_.size()); // its own, per context
}

Result<std::unique_ptr<Engine>> TensorRTEngine::share_engine() {
  // TensorRT lets several execution contexts of one ICudaEngine run at once
  // on different streams; each sharer has its own context and stream.
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  std::unique_ptr<TensorRTEngine> sharer(new TensorRTEngine(*this));
  const cudaError_t status = sharer->stream_.create();
  if (status != cudaSuccess) {
    return cuda_failure(Error::Internal, "cudaStreamCreate for another execution context", status);
  }
  sharer->active_stream_ = sharer->stream_.get();
  return std::unique_ptr<Engine>(std::move(sharer));
}

Error TensorRTEngine::require_context() const {
  return report_error(
      Error::InvalidState, "internal: the engine ran before its execution context was created");
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
