#pragma once

#include <executorch/runtime/backend/interface.h>

#include "engines/loaded_delegate.h"

namespace executorch_tensorrt {

// init()'s work: validate the blob and the options (compile specs, then
// load-time options over them), then do what the init policy asks now:
// everything (eager), deserialization only (deferred_context) or nothing
// (deferred, keeping ExecuTorch's buffer without a copy).
Result<LoadedDelegate*> create_delegate(
    executorch::runtime::BackendInitContext& context,
    executorch::runtime::FreeableBuffer* processed,
    executorch::runtime::ArrayRef<executorch::runtime::CompileSpec> compile_specs);

} // namespace executorch_tensorrt
