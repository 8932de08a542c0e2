#pragma once

#include <memory>

#include "engines/engine_runtime.h"

namespace executorch_tensorrt {

// Registers a runtime for the flavour its identity() names. The TensorRT
// adapter registers itself when the delegate loads it; the test engine
// registers itself from a static initializer when a test loads it. A second
// runtime for the same flavour is refused (InvalidArgument) and logged.
Error register_engine_runtime(std::unique_ptr<EngineRuntime> runtime);

// The runtime that should execute engines of `flavour`. For the TensorRT
// flavours this loads the TensorRT adapter library on first use, so importing
// the delegate never needs TensorRT or CUDA; a TensorRT-RTX engine is handed
// to the TensorRT adapter too, whose compatibility check explains the
// mismatch. Fails with NotFound and a message when no runtime can be had.
Result<EngineRuntime*> engine_runtime_for(Flavour flavour);

} // namespace executorch_tensorrt

// C entry point the adapter library exports; the registry calls it after
// dlopen() and takes ownership of the result.
extern "C" {
typedef executorch_tensorrt::EngineRuntime* (*ExecutorchTensorRTCreateRuntimeFn)();
}
inline constexpr const char kCreateTensorRTRuntimeSymbol[] =
    "executorch_tensorrt_create_tensorrt_runtime";
inline constexpr const char kAdapterLibraryName[] =
    "libexecutorch_tensorrt_adapter.so";
