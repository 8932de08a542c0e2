// The TensorRT adapter's entry point: the EngineRuntime for TensorRT engines.
// Built as its own library (libexecutorch_tensorrt_adapter.so), which the
// delegate dlopen()s on first use, so a process without TensorRT or CUDA can
// still import the package and get a clear message instead of a
// dynamic-linker failure.

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <mutex>
#include <new>
#include <string>

#include "engines/engine_runtime_registry.h"
#include "common/error_report.h"
#include "tensorrt/tensorrt_engine.h"
#include "tensorrt/tensorrt_logger.h"

#ifndef EXECUTORCH_TENSORRT_RUNTIME_LIBRARY
#define EXECUTORCH_TENSORRT_RUNTIME_LIBRARY "libnvinfer"
#endif

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {

// "major.minor.patch" of the TensorRT library actually loaded, which may be
// newer than the headers we compiled against. These getters only read
// constants, so unlike createInferRuntime they are safe without a GPU.
std::string loaded_tensorrt_version() {
  return std::to_string(getInferLibMajorVersion()) + "." +
      std::to_string(getInferLibMinorVersion()) + "." +
      std::to_string(getInferLibPatchVersion());
}

class TensorRTEngineRuntime final : public EngineRuntime {
 public:
  EngineIdentity identity() const override {
    return EngineIdentity{Flavour::kTensorRT, loaded_tensorrt_version()};
  }

  std::string description() const override {
    return "TensorRT " + loaded_tensorrt_version() + " (" +
        EXECUTORCH_TENSORRT_RUNTIME_LIBRARY + ")";
  }

  Error check_device(int32_t device_index) override {
    // Without a driver, TensorRT's createInferRuntime returns a bogus
    // non-null pointer that crashes on first use (see FACTS.md), so the CUDA
    // device check must come first and must gate every TensorRT call.
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
      return report_error(
          Error::NotSupported,
          "no CUDA device is available (cudaGetDeviceCount: %s, CUDA error %d); "
          "TensorRT engines run only on a machine with an NVIDIA GPU and driver",
          status == cudaSuccess ? "0 devices" : cudaGetErrorString(status),
          static_cast<int>(status));
    }
    if (device_index >= count) {
      return report_error(
          Error::NotSupported,
          "the program targets CUDA device %d but this machine has %d device(s); "
          "re-export with device_index below %d",
          device_index,
          count,
          count);
    }
    return Error::Ok;
  }

  // Owned state outlives engines: plain device memory of the device.
  Result<void*> allocate_persistent(int32_t device_index, size_t nbytes) override {
    return device_allocate(device_index, nbytes, "cudaMalloc for owned state");
  }

  void free_persistent(int32_t device_index, void* pointer) override {
    ScopedDevice device(device_index);
    cudaFree(pointer); // nothing to do about a failure on the release path
  }

  // Not on the execute path: waits for all of the device's work (a call on a
  // caller's stream may still be writing the state), then copies.
  Error read_persistent(int32_t device_index, void* host, const void* source, size_t nbytes) override {
    ScopedDevice device(device_index);
    if (device.status() != cudaSuccess) {
      return device_failure(device_index, device);
    }
    cudaError_t status = cudaDeviceSynchronize();
    if (status == cudaSuccess) {
      status = cudaMemcpy(host, source, nbytes, cudaMemcpyDeviceToHost);
    }
    return status == cudaSuccess ? Error::Ok : cuda_failure(Error::Internal, "reading owned state back", status);
  }

  Result<std::unique_ptr<Engine>> deserialize(
      const uint8_t* engine_bytes,
      size_t engine_size,
      const EngineMetadata& metadata) override {
    ScopedDevice device(metadata.device_index);
    if (device.status() != cudaSuccess) {
      return device_failure(metadata.device_index, device);
    }
    // The host-code flag is state of the shared IRuntime: hold it for the
    // whole deserialization.
    std::lock_guard<std::mutex> lock(mutex_);
    nvinfer1::IRuntime* runtime = nullptr;
    Error err = get_runtime_locked(&runtime);
    if (err != Error::Ok) {
      return err;
    }
    // A version-compatible engine carries the lean runtime that built it as
    // host code; TensorRT refuses to load it unless host code is allowed.
    // Engines come from the user's own program, which already runs code.
    runtime->setEngineHostCodeAllowed(metadata.version_compatible);
    logger_.clear_last_error();
    std::unique_ptr<nvinfer1::ICudaEngine> engine(
        runtime->deserializeCudaEngine(engine_bytes, engine_size));
    if (!engine) {
      return report_error(
          Error::DelegateInvalidCompatibility,
          "%s could not deserialize the engine (built by %s %s): %s",
          description().c_str(),
          flavour_name(metadata.flavour),
          metadata.builder_version.c_str(),
          logger_.take_last_error().c_str());
    }
    Result<std::unique_ptr<TensorRTEngine>> created =
        TensorRTEngine::create(std::move(engine), metadata, logger_);
    if (!created.ok()) {
      return created.error();
    }
    return std::unique_ptr<Engine>(std::move(*created));
  }

 private:
  // Creates the IRuntime once, only after check_device() succeeded. Caller
  // holds mutex_.
  Error get_runtime_locked(nvinfer1::IRuntime** out) {
    if (!runtime_) {
      logger_.clear_last_error();
      runtime_.reset(nvinfer1::createInferRuntime(logger_));
      if (!runtime_) {
        return report_error(
            Error::Internal,
            "TensorRT createInferRuntime failed: %s",
            logger_.take_last_error().c_str());
      }
    }
    *out = runtime_.get();
    return Error::Ok;
  }

  TensorRTLogger logger_;
  std::mutex mutex_;
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
};

} // namespace
} // namespace tensorrt_adapter
} // namespace executorch_tensorrt

extern "C" __attribute__((visibility("default")))
executorch_tensorrt::EngineRuntime* executorch_tensorrt_create_tensorrt_runtime() {
  return new (std::nothrow) executorch_tensorrt::tensorrt_adapter::TensorRTEngineRuntime();
}
