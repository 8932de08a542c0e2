#include "tensorrt_backend.h"

#include <exception>
#include <new>

#include "control/delegate_control.h"
#include "engines/delegate_init.h"
#include "engines/delegate_sharing.h"
#include "control/delegate_registry.h"
#include "common/error_report.h"

namespace executorch_tensorrt {

using executorch::runtime::ArrayRef;
using executorch::runtime::BackendExecutionContext;
using executorch::runtime::BackendInitContext;
using executorch::runtime::BackendOption;
using executorch::runtime::BackendOptionContext;
using executorch::runtime::CompileSpec;
using executorch::runtime::DelegateHandle;
using executorch::runtime::EValue;
using executorch::runtime::FreeableBuffer;

namespace {

// No exception may cross into ExecuTorch: every entry point runs its work
// through this.
template <typename Work>
auto guarded(const char* entry_point, Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const std::bad_alloc&) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory in %s", entry_point);
  } catch (const std::exception& e) {
    return report_error(Error::Internal, "%s failed: %s", entry_point, e.what());
  } catch (...) {
    return report_error(Error::Internal, "%s failed with an unknown exception", entry_point);
  }
}

} // namespace

bool TensorRTBackend::is_available() const {
  // Availability of TensorRT and of a GPU is decided per program in init(),
  // where the reason can be reported; a blanket "unavailable" here would only
  // give ExecuTorch's generic message.
  return true;
}

Result<DelegateHandle*> TensorRTBackend::init(
    BackendInitContext& context,
    FreeableBuffer* processed,
    ArrayRef<CompileSpec> compile_specs) const {
  clear_last_error();
  return guarded("init()", [&]() -> Result<DelegateHandle*> {
    Result<LoadedDelegate*> loaded = create_delegate(context, processed, compile_specs);
    if (!loaded.ok()) {
      return loaded.error();
    }
    return static_cast<DelegateHandle*>(*loaded);
  });
}

Error TensorRTBackend::execute(
    BackendExecutionContext& context,
    DelegateHandle* handle,
    Span<EValue*> args) const {
  if (handle == nullptr) {
    return report_error(Error::InvalidState, "execute() called without an initialized delegate");
  }
  auto* loaded = static_cast<LoadedDelegate*>(handle);
  return guarded("execute()", [&] { return loaded->execute(args, context.event_tracer()); });
}

void TensorRTBackend::destroy(DelegateHandle* handle) const {
  auto* loaded = static_cast<LoadedDelegate*>(handle);
  if (loaded == nullptr) {
    return;
  }
  // Instances of a shared delegate (delegate_sharing.h) go with the last.
  if (!leave_shared_delegate(loaded)) {
    return;
  }
  // Unregistering waits for a set_option/get_option visiting it.
  unregister_live_delegate(loaded);
  delete loaded;
}

Error TensorRTBackend::set_option(BackendOptionContext& /*context*/, const Span<BackendOption>& options) {
  clear_last_error();
  return guarded("set_option()", [&] {
    Result<OptionRequest> request = parse_backend_options({options.data(), options.size()}, "set_option");
    if (!request.ok()) {
      return request.error();
    }
    return apply_option_request_to_live_delegates(*request);
  });
}

Error TensorRTBackend::get_option(BackendOptionContext& /*context*/, Span<BackendOption>& options) {
  clear_last_error();
  return guarded("get_option()", [&] { return answer_option_queries(options); });
}

} // namespace executorch_tensorrt
