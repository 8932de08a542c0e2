#include "engines/engine_runtime_registry.h"

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <string>

#include "common/error_report.h"

#ifndef EXECUTORCH_TENSORRT_WITH_TENSORRT
#define EXECUTORCH_TENSORRT_WITH_TENSORRT 0
#endif
// File names of the libraries the adapter was linked against, for messages.
#ifndef EXECUTORCH_TENSORRT_RUNTIME_LIBRARY_FILE
#define EXECUTORCH_TENSORRT_RUNTIME_LIBRARY_FILE "libnvinfer"
#endif
#ifndef EXECUTORCH_TENSORRT_CUDART_FILE
#define EXECUTORCH_TENSORRT_CUDART_FILE "libcudart"
#endif

namespace executorch_tensorrt {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<Flavour, std::unique_ptr<EngineRuntime>> runtimes;
  bool adapter_tried = false;
  std::string adapter_error; // why the adapter could not be loaded
};

Registry& registry() {
  // Leaked on purpose: runtimes may be used by programs destroyed during
  // static destruction, after a function-local static would be gone.
  static Registry* instance = new Registry();
  return *instance;
}

// The directory holding this library, where the adapter is installed too.
std::string own_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 ||
      info.dli_fname == nullptr) {
    return ".";
  }
  std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Loads the TensorRT adapter once. Caller holds the registry mutex.
void load_adapter_locked(Registry& reg) {
  if (reg.adapter_tried) {
    return;
  }
  reg.adapter_tried = true;
#if EXECUTORCH_TENSORRT_WITH_TENSORRT
  const std::string path = own_directory() + "/" + kAdapterLibraryName;
  // Never dlclose()d: TensorRT objects outlive any scope we could close in.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    reg.adapter_error = std::string("could not load the TensorRT adapter (") +
        (why ? why : path.c_str()) + "); it was built against " +
        EXECUTORCH_TENSORRT_RUNTIME_LIBRARY_FILE + " and " + EXECUTORCH_TENSORRT_CUDART_FILE +
        ": install them (for the lean runtime, `pip install tensorrt-lean-cu13-libs`)";
    return;
  }
  auto create = reinterpret_cast<ExecutorchTensorRTCreateRuntimeFn>(
      dlsym(handle, kCreateTensorRTRuntimeSymbol));
  if (create == nullptr) {
    reg.adapter_error = "the TensorRT adapter at " + path + " lacks " +
        kCreateTensorRTRuntimeSymbol + "; reinstall executorch-tensorrt";
    return;
  }
  std::unique_ptr<EngineRuntime> runtime(create());
  if (!runtime) {
    reg.adapter_error = "the TensorRT adapter failed to create its runtime";
    return;
  }
  const Flavour flavour = runtime->identity().flavour;
  reg.runtimes.emplace(flavour, std::move(runtime));
#else
  reg.adapter_error =
      "executorch-tensorrt was built without TensorRT (no TensorRT headers at build time), so it cannot run TensorRT engines; "
      "rebuild it with TensorRT_ROOT pointing at a TensorRT SDK (include/NvInfer.h)";
#endif
}

} // namespace

Error register_engine_runtime(std::unique_ptr<EngineRuntime> runtime) {
  if (!runtime) {
    return report_error(Error::InvalidArgument, "register_engine_runtime: null runtime");
  }
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  const EngineIdentity id = runtime->identity();
  if (reg.runtimes.count(id.flavour) != 0) {
    return report_error(
        Error::InvalidArgument,
        "an engine runtime for flavour '%s' is already registered (%s); refusing %s",
        flavour_name(id.flavour),
        reg.runtimes[id.flavour]->description().c_str(),
        runtime->description().c_str());
  }
  reg.runtimes.emplace(id.flavour, std::move(runtime));
  return Error::Ok;
}

Result<EngineRuntime*> engine_runtime_for(Flavour flavour) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto found = reg.runtimes.find(flavour);
  if (found != reg.runtimes.end()) {
    return found->second.get();
  }
  if (flavour == Flavour::kTest) {
    return report_error(
        Error::NotFound,
        "this program holds a test-engine delegate (flavour 'test'), which only the test suite can run; export it with a TensorRT builder");
  }
  load_adapter_locked(reg);
  found = reg.runtimes.find(Flavour::kTensorRT);
  if (found != reg.runtimes.end()) {
    return found->second.get();
  }
  return report_error(
      Error::NotFound,
      "cannot run a %s engine: %s",
      flavour_name(flavour),
      reg.adapter_error.c_str());
}

} // namespace executorch_tensorrt
