// ExecuTorch's DeviceAllocator for DeviceType::CUDA backed by the test
// engine's simulated device memory. With it, ExecuTorch's own device-tagged
// memory planning (Module allocating device buffers, the et_copy kernels
// copying at delegate boundaries) runs on a machine without a GPU, so tests
// can check which bytes go through the host. Registered only when no other
// CUDA allocator is (ExecuTorch aborts on a second registration).

#include <executorch/runtime/core/device_allocator.h>

#include "test_device_memory.h"

namespace executorch_tensorrt {
namespace test_engine {
namespace {

using executorch::runtime::DeviceAllocator;
using executorch::runtime::Error;
using executorch::runtime::Result;
using executorch::runtime::etensor::DeviceIndex;
using executorch::runtime::etensor::DeviceType;

class SimulatedCudaAllocator final : public DeviceAllocator {
 public:
  Result<void*> allocate(size_t nbytes, DeviceIndex /*index*/, size_t alignment) override {
    // malloc's alignment (16) is what the simulated memory gives; ExecuTorch
    // asks for its default, which that satisfies.
    if (alignment > alignof(std::max_align_t)) {
      return Error::NotSupported;
    }
    void* pointer = device_allocate(nbytes);
    if (pointer == nullptr) {
      return Error::MemoryAllocationFailed;
    }
    return pointer;
  }
  void deallocate(void* pointer, DeviceIndex /*index*/) override {
    device_free(pointer);
  }
  Error copy_host_to_device(void* dst, const void* src, size_t nbytes, DeviceIndex /*index*/) override {
    return device_copy_from_host(dst, src, nbytes) ? Error::Ok : Error::InvalidArgument;
  }
  Error copy_device_to_host(void* dst, const void* src, size_t nbytes, DeviceIndex /*index*/) override {
    return device_copy_to_host(dst, src, nbytes) ? Error::Ok : Error::InvalidArgument;
  }
  DeviceType device_type() const override {
    return DeviceType::CUDA;
  }
};

const bool g_allocator_registered = [] {
  if (executorch::runtime::get_device_allocator(DeviceType::CUDA) != nullptr) {
    return false;
  }
  static SimulatedCudaAllocator allocator;
  executorch::runtime::register_device_allocator(&allocator);
  return true;
}();

} // namespace
} // namespace test_engine
} // namespace executorch_tensorrt

extern "C" int etrt_test_device_allocator_registered() {
  return executorch_tensorrt::test_engine::g_allocator_registered ? 1 : 0;
}
