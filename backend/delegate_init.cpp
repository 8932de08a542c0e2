#include "delegate_init.h"

#include <memory>
#include <new>

#include <executorch/runtime/platform/log.h>

#include "delegate_blob.h"
#include "delegate_registry.h"
#include "error_report.h"
#include "program_tag.h"

namespace executorch_tensorrt {

using executorch::runtime::ArrayRef;
using executorch::runtime::BackendInitContext;
using executorch::runtime::CompileSpec;
using executorch::runtime::FreeableBuffer;

namespace {

Result<DelegateOptions> load_time_options(BackendInitContext& context) {
  Result<OptionRequest> request = parse_backend_options(context.runtime_specs(), "load-time option");
  if (!request.ok()) {
    return request.error();
  }
  if (request->offload || request->program.has_value()) {
    return report_error(
        Error::InvalidArgument,
        "load-time option '%s' is only meaningful for set_option() on a loaded program",
        request->offload ? kOptionOffload : kOptionProgram);
  }
  if (!request->notes.empty()) {
    ET_LOG(Info, "ExecutorchTensorRTBackend: %s", request->notes.c_str());
  }
  return request->options;
}

Error initialize_now(LoadedDelegate& delegate) {
  switch (delegate.init_policy()) {
    case InitPolicy::kEager: {
      Result<Engine*> engine = delegate.engine.acquire();
      return engine.ok() ? Error::Ok : engine.error();
    }
    case InitPolicy::kDeferredContext:
      return delegate.engine.deserialize();
    case InitPolicy::kDeferred:
      return Error::Ok;
  }
  return Error::Ok;
}

} // namespace

Result<LoadedDelegate*> create_delegate(
    BackendInitContext& context,
    FreeableBuffer* processed,
    ArrayRef<CompileSpec> compile_specs) {
  if (processed == nullptr) {
    return report_error(Error::InvalidArgument, "init() received no delegate blob");
  }
  Result<DelegateBlob> blob = parse_delegate_blob(processed->data(), processed->size());
  if (!blob.ok()) {
    return blob.error();
  }
  Result<DelegateOptions> baked = parse_compile_specs(compile_specs);
  if (!baked.ok()) {
    return baked.error();
  }
  Result<DelegateOptions> load = load_time_options(context);
  if (!load.ok()) {
    return load.error();
  }
  // The engine bytes stay in ExecuTorch's buffer (moved, not copied) until
  // the engine is deserialized.
  const uint8_t* engine_bytes = blob->engine;
  const size_t engine_size = blob->engine_size;
  std::unique_ptr<LoadedDelegate> delegate(new (std::nothrow) LoadedDelegate(
      std::move(blob->metadata),
      *baked,
      *load,
      HostEngineBytes(std::move(*processed), engine_bytes, engine_size),
      current_program_tag()));
  if (!delegate) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory creating the delegate");
  }
  {
    std::lock_guard<std::mutex> lock(delegate->mutex);
    Error err = initialize_now(*delegate);
    if (err != Error::Ok) {
      return err;
    }
  }
  ET_LOG(
      Debug,
      "ExecutorchTensorRTBackend: delegate ready (init_policy=%s, state=%s, program=%lld)",
      init_policy_name(delegate->init_policy()),
      engine_state_name(delegate->engine.status().state),
      static_cast<long long>(delegate->program_tag));
  register_live_delegate(delegate.get());
  return delegate.release();
}

} // namespace executorch_tensorrt
