#pragma once

#include <string>
#include <vector>

#include <executorch/runtime/core/error.h>

namespace executorch_tensorrt {

// "WHAT: Error::Name: the delegate's reason" for a failed ExecuTorch call, so
// the user sees why, not only the error code. Shared by the Python extension
// and the runner.
std::string describe_failure(const std::string& what, executorch::runtime::Error error);

// The backend ids in ExecuTorch's registry, as this process sees them.
std::vector<std::string> registered_backend_names();

} // namespace executorch_tensorrt
