#include "tensorrt_backend.h"

#include <exception>
#include <new>

#include "delegate_blob.h"
#include "engine_compatibility.h"
#include "engine_runtime_registry.h"
#include "error_report.h"
#include "loaded_delegate.h"

namespace executorch_tensorrt {

using executorch::runtime::ArrayRef;
using executorch::runtime::BackendExecutionContext;
using executorch::runtime::BackendInitContext;
using executorch::runtime::CompileSpec;
using executorch::runtime::DelegateHandle;
using executorch::runtime::EValue;
using executorch::runtime::FreeableBuffer;

namespace {

struct FixedEngine final : EngineSource {
  explicit FixedEngine(Engine& e) : engine(e) {}
  Result<Engine*> acquire() override {
    return &engine;
  }
  Engine& engine;
};

Result<LoadedDelegate*> load_delegate(FreeableBuffer* processed) {
  if (processed == nullptr) {
    return report_error(Error::InvalidArgument, "init() received no delegate blob");
  }
  Result<DelegateBlob> blob = parse_delegate_blob(processed->data(), processed->size());
  if (!blob.ok()) {
    return blob.error();
  }
  const EngineMetadata& meta = blob->metadata;
  Result<EngineRuntime*> runtime = engine_runtime_for(meta.flavour);
  if (!runtime.ok()) {
    return runtime.error();
  }
  // The device check comes before the compatibility check: on a machine
  // without a GPU that is the problem to report, whatever built the engine.
  Error err = (*runtime)->check_device(meta.device_index);
  if (err != Error::Ok) {
    return err;
  }
  const CompatibilityVerdict verdict = check_compatibility(
      EngineIdentity{meta.flavour, meta.builder_version},
      meta.version_compatible,
      (*runtime)->identity());
  if (!verdict.compatible) {
    return report_error(Error::DelegateInvalidCompatibility, "%s", verdict.reason.c_str());
  }
  Result<std::unique_ptr<Engine>> engine =
      (*runtime)->deserialize(blob->engine, blob->engine_size, meta);
  if (!engine.ok()) {
    return engine.error();
  }
  auto* loaded = new (std::nothrow)
      LoadedDelegate(std::move(blob->metadata), std::move(*engine));
  if (loaded == nullptr) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory creating the delegate");
  }
  return loaded;
}

} // namespace

bool TensorRTBackend::is_available() const {
  // Availability of TensorRT and of a GPU is decided per program in init(),
  // where the reason can be reported; a blanket "unavailable" here would only
  // give ExecuTorch's generic message.
  return true;
}

Result<DelegateHandle*> TensorRTBackend::init(
    BackendInitContext& /*context*/,
    FreeableBuffer* processed,
    ArrayRef<CompileSpec> /*compile_specs*/) const {
  clear_last_error();
  // No exception may cross into ExecuTorch.
  try {
    Result<LoadedDelegate*> loaded = load_delegate(processed);
    if (!loaded.ok()) {
      return loaded.error();
    }
    // The engine was deserialized into its own memory; the blob is no longer
    // needed on the host.
    processed->Free();
    return static_cast<DelegateHandle*>(*loaded);
  } catch (const std::bad_alloc&) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory in init()");
  } catch (const std::exception& e) {
    return report_error(Error::Internal, "init() failed: %s", e.what());
  } catch (...) {
    return report_error(Error::Internal, "init() failed with an unknown exception");
  }
}

Error TensorRTBackend::execute(
    BackendExecutionContext& context,
    DelegateHandle* handle,
    Span<EValue*> args) const {
  if (handle == nullptr) {
    return report_error(Error::InvalidState, "execute() called without an initialized delegate");
  }
  auto* loaded = static_cast<LoadedDelegate*>(handle);
  try {
    std::lock_guard<std::mutex> lock(loaded->execute_mutex);
    FixedEngine source(*loaded->engine);
    return loaded->executor.execute(source, args, context.event_tracer());
  } catch (const std::bad_alloc&) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory in execute()");
  } catch (const std::exception& e) {
    return report_error(Error::Internal, "execute() failed: %s", e.what());
  } catch (...) {
    return report_error(Error::Internal, "execute() failed with an unknown exception");
  }
}

void TensorRTBackend::destroy(DelegateHandle* handle) const {
  delete static_cast<LoadedDelegate*>(handle);
}

} // namespace executorch_tensorrt
