#pragma once

#include <string>
#include <vector>

#include <executorch/runtime/core/error.h>

namespace executorch_tensorrt {

// "WHAT: the reason (ExecuTorch Error::Name)" for a failed ExecuTorch call
// (the reason: the last report_error() of this thread), so the user sees why,
// not only the error code; safe to print (printable_message). Shared by the
// Python extension and the runner.
std::string describe_failure(const std::string& what, executorch::runtime::Error error);

// The backend ids in ExecuTorch's registry, as this process sees them.
std::vector<std::string> registered_backend_names();

} // namespace executorch_tensorrt
