#pragma once

#include <NvInferRuntime.h>

#include <memory>
#include <string>
#include <vector>

#include "engines/engine_runtime.h"
#include "tensorrt/cuda_resources.h"
#include "tensorrt/tensorrt_logger.h"
#include "tensorrt/tensorrt_output_allocator.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {

// One deserialized TensorRT engine with its execution context and stream.
// share_engine() gives another TensorRTEngine over the same ICudaEngine
// (shared ownership: the weights stay on the device once) with its own
// context and stream, so calls run at once (option execution_contexts).
// The context is created by create_execution_context(), after the
// weight-streaming budget was applied (tensorrt_engine_lifecycle.cpp).
// Device memory for staging is allocated and owned by the delegate's
// executor (StagingBuffers) through allocate_device/free_device.
class TensorRTEngine final : public Engine {
 public:
  // Builds the engine from TensorRT objects (the delegate checks describe()
  // against the blob afterwards).
  static Result<std::unique_ptr<TensorRTEngine>> create(
      std::unique_ptr<nvinfer1::ICudaEngine> engine,
      const EngineMetadata& metadata,
      TensorRTLogger& logger);

  ~TensorRTEngine() override;

  // Lifecycle (tensorrt_engine_lifecycle.cpp).
  int64_t streamable_weights_bytes() const override;
  int64_t automatic_weight_streaming_budget() const override;
  Error set_weight_streaming_budget(int64_t bytes) override;
  Error create_execution_context(ContextMemory memory) override;
  int64_t execution_memory_bytes() const override;
  Error bind_execution_memory(void* memory, int64_t bytes) override;
  void release_execution_context() override;
  bool has_execution_context() const override;
  int64_t device_bytes() const override;
  Result<std::vector<uint8_t>> serialize() const override;
  Result<std::unique_ptr<Engine>> share_engine() override;
  // Weight-stripped engines (tensorrt_refit.cpp).
  Error refit(Span<const NamedWeights> weights) override;

  Result<EngineDescription> describe() const override;
  Error infer_output_shapes(uint32_t profile, Span<const Shape> input_shapes, Span<Shape> output_shapes) override;
  ProducedOutput produced_output(size_t output_index) const override;
  Result<void*> allocate_device(size_t nbytes) override;
  void free_device(void* pointer) override;
  Error copy_to_device(void* device, const void* host, size_t nbytes) override;
  Error copy_to_host(void* host, const void* device, size_t nbytes) override;
  Error enqueue(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) override;
  Error synchronize() override;
  // Owned state: getAliasedInputTensor, and a D2D copy on the stream in use.
  bool output_aliases_input(const std::string& output, const std::string& input) const override;
  Error copy_device_to_device(void* destination, const void* source, size_t nbytes) override;

  // Streams, pinned staging and CUDA graphs (tensorrt_engine_graphs.cpp).
  Error use_stream(const CallerStream& stream) override;
  void* last_work_event() const override;
  Error order_after(const Engine& earlier) override;
  Result<void*> allocate_host(size_t nbytes) override;
  void free_host(void* pointer) override;
  Result<std::unique_ptr<CapturedEnqueue>> capture_enqueue(
      Span<const DeviceTensor> inputs,
      Span<const DeviceTensor> outputs) override;
  uint64_t context_generation() const override {
    return context_generation_;
  }
  // Launches a captured graph on the stream in use (CapturedGraph::launch).
  Error launch_graph(cudaGraphExec_t graph);

 private:
  TensorRTEngine(
      std::shared_ptr<nvinfer1::ICudaEngine> engine,
      const EngineMetadata& metadata,
      TensorRTLogger& logger);
  // A sharer of `original`'s engine (share_engine), without a stream yet.
  explicit TensorRTEngine(const TensorRTEngine& original);

  // Reports that an execute arrived before create_execution_context().
  Error require_context() const;
  // Binds one I/O address; `slot` is its index among inputs then outputs.
  Error bind_address(const DeviceTensor& tensor, const char* role, size_t slot);
  // Refuses an address that is not memory of the engine's device.
  Error check_device_address(const DeviceTensor& tensor, const char* role, size_t slot);
  // Gives output `index` (a data-dependent shape, `dims` with -1) its
  // BoundedOutputAllocator on this context, once per context.
  Error use_output_allocator(size_t index, const Shape& dims);
  // Binds every I/O address of a call (enqueue and capture).
  Error bind_call(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs);
  // Marks the end of the work enqueued so far on the stream in use.
  Error record_work_done();
  // Waits on the host for everything this engine enqueued (release paths:
  // the caller's stream may be gone, its last work event is not).
  void wait_for_work();

  // Declared in this order so the context is destroyed before the output
  // allocators it points to and the engine (which goes with its last sharer).
  std::shared_ptr<nvinfer1::ICudaEngine> engine_;
  // Per output; null unless its shape is data-dependent (for this context).
  std::vector<std::unique_ptr<BoundedOutputAllocator>> output_allocators_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  TensorRTLogger& logger_;
  int32_t device_index_;
  int32_t active_profile_ = 0;
  bool user_managed_ = false; // the context was created with kUSER_MANAGED
  bool memory_bound_ = false; // setDeviceMemoryV2 was called for this context
  bool shares_weights_ = false; // made by share_engine(): the weights are the original's
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  std::vector<std::pair<std::string, Shape>> state_input_shapes_; // the owned state's engine inputs
  std::vector<uint8_t> output_dtypes_; // ExecuTorch ScalarType codes, from the blob
  std::vector<const void*> checked_addresses_; // per binding, the last address found on the device
  CudaStream stream_;
  // The stream for this call: stream_ or the caller's (valid only during
  // the call that chose it; afterwards only work_done_ is used).
  cudaStream_t active_stream_ = nullptr;
  cudaStream_t checked_stream_ = nullptr; // the last caller stream found on device_index_
  bool checked_stream_valid_ = false;
  CudaEvent work_done_; // after the last work enqueued, on whichever stream
  uint64_t context_generation_ = 0; // bumped by create_execution_context
  // The last call's shapes on this context (infer_output_shapes).
  bool shapes_cached_ = false;
  uint32_t cached_profile_ = 0;
  std::vector<Shape> cached_input_shapes_;
  std::vector<Shape> cached_output_shapes_;
  // The execution memory bound now (bind_execution_memory).
  void* bound_memory_ = nullptr;
  int64_t bound_bytes_ = 0;
};

// Reports a failed CUDA call with its error string and returns `code`.
Error cuda_failure(Error code, const char* what, cudaError_t status);

// Reports that a ScopedDevice could not make `device` current.
Error device_failure(int32_t device, const ScopedDevice& guard);

// cudaMalloc of `nbytes` (at least 1, so the address is never null) on
// `device`; `what` names the buffer in the error.
Result<void*> device_allocate(int32_t device, size_t nbytes, const char* what);

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
