// ExecuTorch's DeviceAllocator for CUDA, so that programs exported with
// device memory planning (exporter/device_planning.py) get their device
// buffers (tensors between delegates, device I/O) and their et_copy
// host<->device copies from real CUDA. Registered when the adapter library
// is loaded and a CUDA device is visible, unless another CUDA allocator
// already is (ExecuTorch aborts on a second registration). ExecuTorch
// allocates planned buffers before a delegate's init() loads this adapter, so
// the first device-planned program of a process needs the adapter loaded
// beforehand (executorch_tensorrt.runtime.load(..., device="cuda") does).
//
// Copies are synchronous (cudaMemcpy): the delegate's execute() has finished
// its stream's work when it returns, and ExecuTorch runs the et_copy kernels
// between delegate calls, so no ordering with the delegate's stream is
// needed beyond that.

#include <cuda_runtime_api.h>

#include <executorch/runtime/core/device_allocator.h>

#include "common/error_report.h"
#include "tensorrt/cuda_resources.h"
#include "tensorrt/tensorrt_engine.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {

using executorch::runtime::DeviceAllocator;
using executorch::runtime::etensor::DeviceIndex;
using executorch::runtime::etensor::DeviceType;

class CudaDeviceAllocator final : public DeviceAllocator {
 public:
  Result<void*> allocate(size_t nbytes, DeviceIndex index, size_t alignment) override {
    // cudaMalloc returns 256-byte aligned memory.
    if (alignment > 256 || (alignment & (alignment - 1)) != 0) {
      return report_error(Error::NotSupported, "device buffer alignment %zu is not supported (at most 256)", alignment);
    }
    return device_allocate(index, nbytes, "cudaMalloc for a planned device buffer");
  }

  void deallocate(void* pointer, DeviceIndex index) override {
    ScopedDevice device(index);
    cudaFree(pointer);
  }

  Error copy_host_to_device(void* dst, const void* src, size_t nbytes, DeviceIndex index) override {
    return copy(dst, src, nbytes, index, cudaMemcpyHostToDevice, "copying a method input to the device");
  }

  Error copy_device_to_host(void* dst, const void* src, size_t nbytes, DeviceIndex index) override {
    return copy(dst, src, nbytes, index, cudaMemcpyDeviceToHost, "copying a method output to the host");
  }

  DeviceType device_type() const override {
    return DeviceType::CUDA;
  }

 private:
  static Error copy(void* dst, const void* src, size_t nbytes, DeviceIndex index, cudaMemcpyKind kind, const char* what) {
    ScopedDevice device(index);
    if (device.status() != cudaSuccess) {
      return device_failure(index, device);
    }
    const cudaError_t status = cudaMemcpy(dst, src, nbytes, kind);
    return status == cudaSuccess ? Error::Ok : cuda_failure(Error::Internal, what, status);
  }
};

const bool g_registered = [] {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    return false; // nothing to allocate on; leaves the slot to others (tests)
  }
  if (executorch::runtime::get_device_allocator(DeviceType::CUDA) != nullptr) {
    return false;
  }
  static CudaDeviceAllocator allocator;
  executorch::runtime::register_device_allocator(&allocator);
  return true;
}();

} // namespace
} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
