#pragma once

// RAII owners for the CUDA objects the TensorRT adapter uses. Part of the
// adapter: nothing outside backend/tensorrt/ includes CUDA headers.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

namespace executorch_tensorrt {
namespace tensorrt_adapter {

// Makes `device` current for a scope and restores the caller's device after,
// so the delegate never changes the device a host framework (PyTorch, say)
// set on this thread.
class ScopedDevice {
 public:
  explicit ScopedDevice(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      previous_ = -1;
    }
    status_ = previous_ == device ? cudaSuccess : cudaSetDevice(device);
  }
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;
  ~ScopedDevice() {
    if (previous_ >= 0 && status_ == cudaSuccess) {
      cudaSetDevice(previous_);
    }
  }

  // The result of making `device` current.
  cudaError_t status() const {
    return status_;
  }

 private:
  int previous_ = -1;
  cudaError_t status_ = cudaSuccess;
};

// A non-blocking CUDA stream owned by one engine.
class CudaStream {
 public:
  CudaStream() = default;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  ~CudaStream() {
    if (stream_ != nullptr) {
      cudaStreamDestroy(stream_);
    }
  }

  cudaError_t create() {
    return cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
  }

  cudaStream_t get() const {
    return stream_;
  }

 private:
  cudaStream_t stream_ = nullptr;
};

// A CUDA event without timing (ordering only), created on first use.
class CudaEvent {
 public:
  CudaEvent() = default;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  ~CudaEvent() {
    if (event_ != nullptr) {
      cudaEventDestroy(event_);
    }
  }

  cudaError_t record(cudaStream_t stream) {
    if (event_ == nullptr) {
      const cudaError_t status = cudaEventCreateWithFlags(&event_, cudaEventDisableTiming);
      if (status != cudaSuccess) {
        event_ = nullptr;
        return status;
      }
    }
    recorded_ = true;
    return cudaEventRecord(event_, stream);
  }
  // Null until recorded once.
  cudaEvent_t get() const {
    return recorded_ ? event_ : nullptr;
  }

 private:
  cudaEvent_t event_ = nullptr;
  bool recorded_ = false;
};

// An instantiated CUDA graph.
class CudaGraphExec {
 public:
  explicit CudaGraphExec(cudaGraphExec_t exec) : exec_(exec) {}
  CudaGraphExec(const CudaGraphExec&) = delete;
  CudaGraphExec& operator=(const CudaGraphExec&) = delete;
  ~CudaGraphExec() {
    if (exec_ != nullptr) {
      cudaGraphExecDestroy(exec_);
    }
  }
  cudaGraphExec_t get() const {
    return exec_;
  }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
