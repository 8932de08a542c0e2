// Registers the delegate with ExecuTorch's backend registry when the library
// is loaded, so the Python runtime, executorch.runtime and C++ Module all see
// it once the library is in the process.

#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/platform/log.h>

#include "backend_id.h"
#include "tensorrt_backend.h"

namespace executorch_tensorrt {
namespace {

executorch::runtime::Error register_delegate() {
  // Never destroyed: ExecuTorch keeps the pointer for the life of the process.
  static auto* backend = new TensorRTBackend();
  const executorch::runtime::Error status =
      executorch::runtime::register_backend({kBackendId, backend});
  if (status != executorch::runtime::Error::Ok) {
    // ExecuTorch says nothing itself; the likely causes are an id already
    // taken (two copies of this library in one process) or a full registry.
    ET_LOG(
        Error,
        "ExecutorchTensorRTBackend: registering backend '%s' failed with error 0x%x: "
        "the id is already registered (two copies of libexecutorch_tensorrt_delegate.so loaded?) "
        "or ExecuTorch's backend registry is full",
        kBackendId,
        static_cast<unsigned>(status));
  }
  return status;
}

// Runs when the library is loaded.
const executorch::runtime::Error g_registration_status = register_delegate();

} // namespace
} // namespace executorch_tensorrt

// 0 when the static registration succeeded, else the ExecuTorch error code.
extern "C" int executorch_tensorrt_registration_status() {
  return static_cast<int>(executorch_tensorrt::g_registration_status);
}

extern "C" const char* executorch_tensorrt_backend_id() {
  return executorch_tensorrt::kBackendId;
}
