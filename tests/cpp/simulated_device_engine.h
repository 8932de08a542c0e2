#pragma once

// An Engine base for executor-level C++ tests whose "device" is the test
// engine's simulated device memory (tests/engine/test_device_memory.h):
// subclasses implement infer_output_shapes() and evaluate() on device
// pointers; allocation and copies are counted by the simulated memory.

#include <engines/engine_runtime.h>
#include <common/error_report.h>

#include "../engine/test_device_memory.h"

namespace executorch_tensorrt {

class SimulatedDeviceEngine : public Engine {
 public:
  Result<void*> allocate_device(size_t nbytes) override {
    void* pointer = test_engine::device_allocate(nbytes);
    if (pointer == nullptr) {
      return Error::MemoryAllocationFailed;
    }
    return pointer;
  }
  void free_device(void* pointer) override {
    test_engine::device_free(pointer);
  }
  Error copy_to_device(void* device, const void* host, size_t nbytes) override {
    return test_engine::device_copy_from_host(device, host, nbytes) ? Error::Ok : Error::Internal;
  }
  Error copy_to_host(void* host, const void* device, size_t nbytes) override {
    return test_engine::device_copy_to_host(host, device, nbytes) ? Error::Ok : Error::Internal;
  }
  Error enqueue(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) override {
    for (const DeviceTensor& t : inputs) {
      if (!test_engine::is_device_pointer(t.data)) {
        return report_error(Error::Internal, "input '%s' is not in device memory", t.spec->name.c_str());
      }
    }
    for (const DeviceTensor& t : outputs) {
      if (!test_engine::is_device_pointer(t.data)) {
        return report_error(Error::Internal, "output '%s' is not in device memory", t.spec->name.c_str());
      }
    }
    return evaluate(inputs, outputs);
  }
  Error synchronize() override {
    return Error::Ok;
  }

 protected:
  virtual Error evaluate(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) = 0;
};

} // namespace executorch_tensorrt
