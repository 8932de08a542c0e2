// TensorRTEngine's streams, pinned staging memory and CUDA graphs: what lets
// a call run on the caller's stream without a host wait and replay its
// enqueue at the cost of one graph launch.

#include "common/error_report.h"
#include "tensorrt/tensorrt_engine.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {

// One captured enqueue, launched on the engine's stream in use.
class CapturedGraph final : public CapturedEnqueue {
 public:
  CapturedGraph(TensorRTEngine& engine, cudaGraphExec_t exec) : engine_(engine), exec_(exec) {}
  Error launch() override {
    return engine_.launch_graph(exec_.get());
  }

 private:
  TensorRTEngine& engine_;
  CudaGraphExec exec_;
};

} // namespace

Error TensorRTEngine::use_stream(const CallerStream& stream) {
  cudaStream_t next = stream.given ? static_cast<cudaStream_t>(stream.handle) : stream_.get();
  // A stream of another device would fail at the first copy or launch with
  // an error that names neither: check each new caller stream once.
  if (stream.given && !(checked_stream_valid_ && checked_stream_ == next)) {
    int device = -1;
    const cudaError_t status = cudaStreamGetDevice(next, &device);
    if (status != cudaSuccess) {
      cudaGetLastError();
      return cuda_failure(Error::InvalidArgument, "reading the caller's stream (CallerStreamGuard / stream=)", status);
    }
    if (device != device_index_) {
      return report_error(
          Error::InvalidArgument,
          "the caller's stream is on CUDA device %d, the engine runs on device %d; give a stream of device %d",
          device, device_index_, device_index_);
    }
    checked_stream_ = next;
    checked_stream_valid_ = true;
  }
  if (next != active_stream_ && work_done_.get() != nullptr) {
    // What this engine enqueued on the previous stream comes first.
    ScopedDevice scoped(device_index_);
    const cudaError_t status = cudaStreamWaitEvent(next, work_done_.get(), 0);
    if (status != cudaSuccess) {
      return cuda_failure(Error::Internal, "ordering the call after the engine's earlier work", status);
    }
  }
  active_stream_ = next;
  return Error::Ok;
}

void* TensorRTEngine::last_work_event() const {
  return work_done_.get();
}

Error TensorRTEngine::order_after(const Engine& earlier) {
  auto* event = static_cast<cudaEvent_t>(earlier.last_work_event());
  if (event == nullptr) {
    return Error::Ok;
  }
  ScopedDevice device(device_index_);
  const cudaError_t status = cudaStreamWaitEvent(active_stream_, event, 0);
  return status == cudaSuccess
      ? Error::Ok
      : cuda_failure(Error::Internal, "ordering the run after the previous user of the shared execution memory", status);
}

Result<void*> TensorRTEngine::allocate_host(size_t nbytes) {
  ScopedDevice device(device_index_);
  void* pointer = nullptr;
  const cudaError_t status = cudaHostAlloc(&pointer, nbytes == 0 ? 1 : nbytes, cudaHostAllocDefault);
  if (status != cudaSuccess) {
    cudaGetLastError(); // the caller falls back to pageable staging
    return cuda_failure(Error::MemoryAllocationFailed, "cudaHostAlloc for pinned staging", status);
  }
  return pointer;
}

void TensorRTEngine::free_host(void* pointer) {
  cudaFreeHost(pointer);
}

Result<std::unique_ptr<CapturedEnqueue>> TensorRTEngine::capture_enqueue(
    Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) {
  for (const auto& allocator : output_allocators_) {
    if (allocator) {
      // enqueueV3 waits on the host for the size, and a replay would not report it.
      return report_error(Error::NotSupported, "an output has a data-dependent shape, which is not captured");
    }
  }
  const int64_t streamable = streamable_weights_bytes();
  if (streamable > 0 && engine_->getWeightStreamingBudgetV2() < streamable) {
    return report_error(
        Error::NotSupported,
        "its weights stream from host memory (weight_streaming_budget below the streamable %lld bytes), which is not "
        "captured",
        static_cast<long long>(streamable));
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  Error err = bind_call(inputs, outputs);
  if (err != Error::Ok) {
    return err;
  }
  // Captured on the engine's own stream: the caller's may be the legacy
  // default stream, which cannot be captured; the graph launches on any.
  cudaStream_t capture = stream_.get();
  cudaError_t status = cudaStreamBeginCapture(capture, cudaStreamCaptureModeThreadLocal);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return cuda_failure(Error::NotSupported, "cudaStreamBeginCapture", status);
  }
  const bool enqueued = context_->enqueueV3(capture);
  cudaGraph_t graph = nullptr;
  status = cudaStreamEndCapture(capture, &graph);
  if (!enqueued || status != cudaSuccess || graph == nullptr) {
    if (graph != nullptr) {
      cudaGraphDestroy(graph);
    }
    cudaGetLastError();
    return report_error(
        Error::NotSupported, "capturing enqueueV3 failed: %s",
        !enqueued ? logger_.take_last_error().c_str() : cudaGetErrorString(status));
  }
  cudaGraphExec_t exec = nullptr;
  status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return cuda_failure(Error::NotSupported, "cudaGraphInstantiate", status);
  }
  return std::unique_ptr<CapturedEnqueue>(new CapturedGraph(*this, exec));
}

Error TensorRTEngine::launch_graph(cudaGraphExec_t graph) {
  ScopedDevice device(device_index_);
  const cudaError_t status = cudaGraphLaunch(graph, active_stream_);
  if (status != cudaSuccess) {
    return cuda_failure(Error::Internal, "cudaGraphLaunch", status);
  }
  return record_work_done();
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
