#pragma once

// RAII owners for the CUDA objects the TensorRT adapter uses. Part of the
// adapter: nothing outside backend/tensorrt/ includes CUDA headers.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

namespace executorch_tensorrt {
namespace tensorrt_adapter {

// Device memory that grows on demand and is freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = std::exchange(other.ptr_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() {
    release();
  }

  // Ensures at least `nbytes` of capacity; keeps the buffer when it is
  // already large enough so steady-state calls do not allocate.
  cudaError_t reserve(size_t nbytes) {
    if (nbytes <= capacity_ && ptr_ != nullptr) {
      return cudaSuccess;
    }
    release();
    // cudaMalloc(0) is legal but returns null; keep one byte so a bound
    // address is never null for empty tensors.
    const size_t size = nbytes == 0 ? 1 : nbytes;
    const cudaError_t status = cudaMalloc(&ptr_, size);
    if (status != cudaSuccess) {
      ptr_ = nullptr;
      return status;
    }
    capacity_ = size;
    return cudaSuccess;
  }

  void* get() const {
    return ptr_;
  }

 private:
  void release() {
    if (ptr_ != nullptr) {
      cudaFree(ptr_);
      ptr_ = nullptr;
      capacity_ = 0;
    }
  }

  void* ptr_ = nullptr;
  size_t capacity_ = 0;
};

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

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
